// `rlmpi [train]`: plan the run directory, resume or start, then epochs until done or stopped.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>
#include <cstdio>
#include <limits>
#include <ctime>
#include <optional>
#include <sched.h>
#include <unistd.h>

#include "checkpointing.hpp"
#include "console.hpp"
#include "rlmpi/algo/columns.hpp"
#include "rlmpi/algo/trainer.hpp"
#include "rlmpi/cli/app.hpp"
#include "rlmpi/cli/run_lock.hpp"
#include "rlmpi/core/bytes.hpp"
#include "rlmpi/core/error.hpp"
#include "rlmpi/core/signals.hpp"
#include "rlmpi/io/file_writer.hpp"
#include "rlmpi/io/run_file.hpp"
#include "rlmpi/mpi/watchdog.hpp"
#include "rlmpi/version.hpp"
#include "evaluation.hpp"
#include "run_config.hpp"
#include "run_dir.hpp"

namespace rlmpi::cli {
namespace {

// Option values as typed attributes: numbers as float64 (integers as int64), the rest as text.
io::AttrValue typed(const std::string& v) {
  if (v.empty()) return v;
  long long i = 0;
  auto [pi, ei] = std::from_chars(v.data(), v.data() + v.size(), i);
  if (ei == std::errc() && pi == v.data() + v.size()) return static_cast<std::int64_t>(i);
  double d = 0;
  auto [pd, ed] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ed == std::errc() && pd == v.data() + v.size()) return d;
  return v;
}

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string iso_time_now() {
  char buf[40];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

io::Attributes run_attributes(const Options& cfg, const mpi::Comm& world) {
  io::Attributes a = {{"algorithm", cfg.algo},
                      {"environment", cfg.env},
                      {"seed", static_cast<std::int64_t>(cfg.seed)},
                      {"num_ranks", static_cast<std::int64_t>(world.size())},
                      {"rlmpi_version", std::string(kVersion)},
                      {"git_commit", std::string(kGitCommit)},
                      {"host", host_name()},
                      {"start_time", iso_time_now()}};
  for (const auto& [k, v] : option_values(cfg)) a.emplace_back("config." + k, typed(v));
  return a;
}

// The epoch's rows (committed later, with its evaluation row).
void append_to_run_file(io::RunFile& run, const algo::EpochResult& r, const algo::Trainer& trainer) {
  std::vector<long long> len(r.episode_length.begin(), r.episode_length.end());
  std::vector<int> rank(r.episode_rank.begin(), r.episode_rank.end());
  run.append_episodes(r.episode_return, len, rank, run.epochs());
  run.append_epoch(r.stats);
  for (const auto& a : trainer.normalizer_stats()) run.set_vector("normalizer", a.name, a.data);
}

// Rank 0's files of one epoch, written off the training path (io::BackgroundWriter) in this
// order: the run file, the checkpoint when one is due (and its kept copy), the status line; then
// the epoch's console lines, so that what is printed is durable. The HDF5 images (~1.5 ms an
// epoch for a small network's checkpoint and run file) are built by the training thread, or by
// the job when rank 0 has a core of its own to spare (images_off_thread): there the job reads
// the in-memory run file and a copy of the checkpoint's contents, and is the only HDF5 user
// while it runs (the training thread calls HDF5 only after writer->wait(), on every path;
// Debian's serial HDF5 is built thread-safe). Where every core runs a rank, a busy writer
// thread slows the rank it shares a core with (6-10 % at 2 ranks on 2 cores, measured).
struct EpochFiles {
  std::string run_path;
  std::vector<char> run_image;
  io::RunFile* run = nullptr;  // instead of run_image: the job takes the snapshot
  std::string checkpoint_path;  // empty: no checkpoint this epoch
  std::vector<char> checkpoint_image;
  std::optional<io::Checkpoint> checkpoint;  // instead of checkpoint_image: the job builds it
  std::string dir, status;
  int last_epoch = 0, keep = 0;
  std::string console;

  void operator()() const {
    io::write_file_atomically(run_path, run != nullptr ? run->snapshot() : run_image);
    if (!checkpoint_path.empty()) {
      io::write_file_atomically(checkpoint_path, checkpoint ? io::checkpoint_image(checkpoint_path, *checkpoint)
                                                            : checkpoint_image);
      keep_checkpoint_history(dir, checkpoint_path, last_epoch, keep);
    }
    write_status(dir, status);
    if (!console.empty()) {
      std::fputs(console.c_str(), stdout);
      std::fflush(stdout);
    }
  }
};

// Whether this process may run on more CPUs than its host has ranks (a lone rank on a multi-core
// node: yes; one rank per core, or ranks bound to a core each: no). Collective.
bool rank_has_spare_core(const mpi::Comm& world) {
  const int on_host = world.ranks_on_this_host();
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return false;
  return CPU_COUNT(&set) > on_host;
}

// Every /epochs column exists from the start (a run stopped before its first epoch still has
// them, empty) and carries its description and units (algo/columns.hpp).
void describe_columns(io::RunFile& run, const std::vector<std::string>& columns) {
  std::vector<bool> integer;
  for (const auto& c : columns) {
    const auto* info = algo::find_column(c);
    integer.push_back(info != nullptr && info->integer);
  }
  run.declare_columns(columns, integer);
  for (const auto& c : columns) {
    if (const auto* info = algo::find_column(c)) {
      run.set_column_attribute(c, "description", info->description);
      if (*info->units) run.set_column_attribute(c, "units", info->units);
    } else {
      run.set_column_attribute(c, "description", algo::info_column_description(c));
    }
  }
}

// How the run was started: every start's command line, and how many restarts (resumes).
void record_start(io::RunFile& run, const Options& cfg, bool resume) {
  std::int64_t restarts = 0;
  std::string lines;
  if (resume) {
    if (const auto v = run.attribute("restarts"); v && std::holds_alternative<std::int64_t>(*v))
      restarts = std::get<std::int64_t>(*v) + 1;
    if (const auto v = run.attribute("command_lines"); v && std::holds_alternative<std::string>(*v))
      lines = std::get<std::string>(*v);
  }
  run.set_attribute("restarts", restarts);
  run.set_attribute("command_lines", lines + iso_time_now() + " " + cfg.command_line + "\n");
  run.set_attribute("exit_status", std::string("running"));
}

// How the run ended, in its file and in dir/status (rank 0; best effort: a failing disk must not
// hide the original error). `code` is the exit code the run ends with.
void record_end(std::optional<io::RunFile>& run, const std::string& dir, int code, const std::string& status,
                int epochs) {
  write_status(dir, std::to_string(code) + " " + status + " (" + std::to_string(epochs) + " epochs in the run file, " +
                        iso_time_now() + ")");
  if (!run) return;
  try {
    run->set_attribute("end_time", iso_time_now());
    run->set_attribute("exit_status", status);
    run->commit();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rlmpi: warning: cannot record the end of the run in its file: %s\n", e.what());
  }
}

std::string fmt_number(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// The policy the trainer holds now, for an evaluation (float parameters widen exactly).
PolicySpec current_policy(const algo::Trainer& trainer, const Options& cfg) {
  PolicySpec p{cfg.env, cfg.activation, cfg.hid, {}, {}, cfg.scale_actions, cfg.time_feature};
  const Eigen::VectorXd params = trainer.pi_params();
  p.params.assign(params.data(), params.data() + params.size());
  if (cfg.normalize_obs)
    for (const auto& a : trainer.state().arrays)
      if (a.name == "obs_norm") p.obs_norm = a.data;
  return p;
}

// An exit code already agreed on by every rank.
struct ExitCode {
  int code;
};

// A resumed run's stored options (rank 0 reads the run file; every rank gets them), as
// (name, text) pairs; empty for a fresh run.
std::vector<std::pair<std::string, std::string>> stored_options(const Options& cfg, const mpi::Comm& world) {
  std::string packed, message;
  int code = 0;
  if (world.is_root()) {
    try {
      const std::string path = run_file_to_resume(cfg);
      ByteWriter w;
      if (!path.empty())
        for (const auto& [name, value] : stored_run_options(path)) {
          w.put_string(name);
          w.put_string(value);
        }
      packed = w.take();
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) throw ExitCode{agreed};
  world.broadcast(packed);
  std::vector<std::pair<std::string, std::string>> out;
  ByteReader r(packed, "stored options");
  while (!r.done()) {
    std::string name = r.get_string();
    out.emplace_back(std::move(name), r.get_string());
  }
  return out;
}

}  // namespace

int run_train(const Options& cli_cfg, const mpi::Comm& world, const StopSignals& signals) {
  const double started = MPI_Wtime();  // --time-limit counts from here
  check_slurm_world_size(world.size());  // same verdict on every rank, before any collective
  // A resume continues the run's own options; changes are refused or recorded (--allow-change).
  std::vector<OptionChange> changes;
  Options merged = cli_cfg;
  try {
    const auto stored = stored_options(cli_cfg, world);
    if (!stored.empty()) merged = merge_with_run(cli_cfg, stored, changes);
  } catch (const ExitCode& e) {
    return e.code;
  }
  const Options cfg = resolve_for_ranks(merged, world.size());
  algo::Trainer trainer(cfg, world);      // throws UsageError on every rank alike, before any collective
  // Started before rank 0 touches the file system: a hung one is reported too.
  std::optional<mpi::Watchdog> watchdog;
  if (cfg.stall_timeout > 0 && world.size() > 1) watchdog.emplace(world, cfg.stall_timeout);

  // Rank 0 plans the run directory and reads the checkpoint; every rank learns the outcome.
  RunPlan plan;
  io::Checkpoint ckpt;
  std::optional<io::RunFile> run;
  RunLock lock;
  int code = 0;
  std::string message;
  if (world.is_root()) {
    try {
      plan = plan_run_locked(cfg, lock);
      if (plan.resume) ckpt = load_checkpoint(plan.resume_from, cfg, world);
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;
  std::string resume_flag = plan.resume ? "1" : "0";
  world.broadcast(resume_flag);

  if (resume_flag == "1") {
    const algo::TrainerState st = distribute(ckpt, world);
    try {
      trainer.restore(st);
    } catch (const std::invalid_argument& e) {
      code = kExitUsage;
      message = std::string("cannot resume from the checkpoint: ") + e.what();
    }
    if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;
  }
  if (trainer.epoch() >= cfg.epochs) {  // resumed at or past the target: touch nothing but a missing status
    std::error_code ec;
    if (world.is_root() && !std::filesystem::exists(std::filesystem::path(plan.dir) / kStatusName, ec))
      write_status(plan.dir, "0 finished (" + std::to_string(trainer.epoch()) + " epochs in the run file)");
    if (world.is_root())
      std::printf("rlmpi: nothing to do: '%s' already holds %d epoch(s) (--epochs %d); give a larger --epochs to "
                  "continue it\n",
                  plan.dir.c_str(), trainer.epoch(), cfg.epochs);
    return kExitOk;
  }
  if (world.is_root()) {
    try {
      run = plan.resume ? io::RunFile::open_for_resume(plan.run_file, trainer.epoch())
                        : io::RunFile::create(plan.run_file, run_attributes(cfg, world));
      describe_columns(*run, trainer.columns());
      record_start(*run, cfg, plan.resume);
      run->set_attribute("isa", nn::to_string(trainer.isa()));  // this start's kernels
      if (plan.resume) {  // the run's target and the options changed by this start
        run->set_attribute("config.epochs", static_cast<std::int64_t>(cfg.epochs));
        for (const auto& c : changes) {
          run->set_attribute("config." + c.option, typed(c.new_value));
          run->append_change(trainer.epoch(), c.option, c.old_value, c.new_value);
        }
      }
      run->commit();
      write_status(plan.dir, "- running since " + iso_time_now() + ": " + std::to_string(trainer.epoch()) + " of " +
                                 std::to_string(cfg.epochs) + " epochs done");
    } catch (const UsageError& e) {
      code = kExitUsage;
      message = e.what();
    }
  }
  if (int agreed = agree_on_error(world, code, message); agreed != 0) return agreed;

  if (world.is_root()) {
    std::printf("rlmpi %s: %s on %s, %d rank(s) x %d env(s), seed %llu, epochs %d..%d of %d steps (%d per rank, "
                "epoch end: %s, %s %s kernels); run file %s\n",
                kVersion, cfg.algo.c_str(), cfg.env.c_str(), world.size(), cfg.envs_per_rank,
                static_cast<unsigned long long>(cfg.seed), trainer.epoch(), cfg.epochs - 1, cfg.steps_per_epoch,
                cfg.steps_per_epoch / world.size(), cfg.epoch_end.c_str(), nn::to_string(trainer.isa()).c_str(),
                cfg.precision.c_str(), plan.run_file.c_str());
    if (plan.resume) {
      const std::string* was = nullptr;  // checkpoints before 0.2 do not say
      for (const auto& [k, v] : ckpt.meta)
        if (k == "isa") was = std::get_if<std::string>(&v);
      if (was && *was != nn::to_string(trainer.isa()))
        std::printf("rlmpi: note: the checkpoint was written by the %s kernels and this run uses %s: it continues "
                    "the run, but its results may differ in the last bits from an uninterrupted %s run\n",
                    was->c_str(), nn::to_string(trainer.isa()).c_str(), was->c_str());
    }
    std::printf("Number of parameters: pi: %lld, v: %lld\n",
                static_cast<long long>(trainer.pi_params().size()), static_cast<long long>(trainer.v_params().size()));
    std::fflush(stdout);
  }
  // Rank 0 writes each epoch's files on a thread of its own while the next epoch runs.
  std::optional<io::BackgroundWriter> writer;
  if (world.is_root()) writer.emplace();
  const bool images_off_thread = rank_has_spare_core(world);  // collective; only rank 0 builds images
  // How the run ends goes into its file: finished, stopped (above) or failed (a system error).
  try {
    int printed_rows = 0;
    // A signal stops the rollout at the next environment step (mpirun gives its ranks about a
    // second between SIGTERM and SIGKILL); one arriving during the update ends that epoch first.
    trainer.set_stop_check([&signals] { return signals.received() != 0; });
    int last_checkpoint = trainer.epoch();
    // The best evaluation so far (a resumed run continues its /eval), the same on every rank.
    double best_eval = -std::numeric_limits<double>::infinity();
    if (cfg.eval_every > 0) {
      if (world.is_root()) best_eval = run->best_eval_return();
      world.broadcast(std::span<double>(&best_eval, 1));
    }
    double longest_epoch = 0;  // wall time of the longest epoch so far, with its eval and checkpoint
    while (trainer.epoch() < cfg.epochs) {
      const double epoch_start = MPI_Wtime();
      const algo::EpochResult r = trainer.run_epoch();
      if (r.stopped) {
        if (world.is_root()) writer->wait();
        if (world.is_root()) record_end(run, plan.dir, kExitStoppedResumable, "stopped by a signal during epoch " + std::to_string(trainer.epoch()), trainer.epoch());
        if (world.is_root())
          std::fprintf(stderr,
                       "rlmpi: stopped by a signal during epoch %d (dropped); resume with --resume auto --out %s "
                       "(continues from epoch %d)\n",
                       trainer.epoch(), plan.dir.c_str(), last_checkpoint);
        return kExitStoppedResumable;
      }
      const bool last = trainer.epoch() == cfg.epochs;
      // One flag reduction per epoch: every rank stops after the same epoch (bit 1: a signal,
      // bit 2: a non-finite quantity, the same on every rank by construction).
      const int flags = static_cast<int>(
          world.allreduce_max((signals.received() != 0 ? 1.0 : 0.0) + (r.non_finite.empty() ? 0.0 : 2.0)));
      const bool stop = flags & 1, diverged = flags & 2;
      // TimeIO: what the file writes cost the training path (the evaluation is not counted).
      double io_seconds = 0, t_io = MPI_Wtime();
      if (world.is_root()) {
        writer->wait();  // the previous epoch's files are on disk (rethrows a failed write)
        append_to_run_file(*run, r, trainer);  // the diverged epoch's row too: it shows the NaN
      }
      io_seconds += MPI_Wtime() - t_io;
      // Deterministic evaluation on separate environments, before the checkpoint: a run killed
      // in between resumes from the previous checkpoint, which drops this /eval row and redoes
      // the epoch and its evaluation identically. The best policy so far is kept in best.h5.
      bool target_reached = false;
      std::string target_message, eval_line;
      if (!diverged && cfg.eval_every > 0 && (last || trainer.epoch() % cfg.eval_every == 0)) {
        const double t_eval = MPI_Wtime();
        const EvalSummary ev = evaluate_policy(current_policy(trainer, cfg), cfg.eval_episodes, /*deterministic=*/true,
                                               cfg.seed, cfg.max_ep_len, world, "the trained policy");
        const double eval_seconds = MPI_Wtime() - t_eval;
        const bool better = ev.return_mean > best_eval;  // identical on every rank (reduced statistics)
        if (better) {
          best_eval = ev.return_mean;
          t_io = MPI_Wtime();
          save_checkpoint(trainer, plan.dir + "/" + kBestName, cfg, world);
          io_seconds += MPI_Wtime() - t_io;
        }
        if (world.is_root()) {
          run->append_eval({trainer.epoch() - 1, static_cast<long long>(r.get("TotalEnvInteracts")), ev.episodes,
                            ev.return_mean, ev.return_std, ev.return_min, ev.return_max, ev.length_mean});
          char line[256];
          std::snprintf(line, sizeof line, "eval after epoch %d: return %.6g +- %.3g (min %.6g, max %.6g) over %lld "
                        "episodes in %.3g s%s\n", trainer.epoch() - 1, ev.return_mean, ev.return_std, ev.return_min,
                        ev.return_max, ev.episodes, eval_seconds, better ? ", best so far -> best.h5" : "");
          eval_line = line;
        }
        if (cfg.target_return && ev.return_mean >= *cfg.target_return) {
          target_reached = true;
          target_message = "reached the target return " + fmt_number(*cfg.target_return) + " (evaluation mean " +
                           fmt_number(ev.return_mean) + ") after epoch " + std::to_string(trainer.epoch() - 1);
        }
      }
      t_io = MPI_Wtime();
      EpochFiles files;
      if (!diverged && (last || stop || target_reached || trainer.epoch() % cfg.checkpoint_every == 0)) {
        if (images_off_thread) {
          files.checkpoint = checkpoint_contents(trainer, cfg, world);
        } else {
          files.checkpoint_image = checkpoint_image(trainer, plan.checkpoint, cfg, world);
        }
        files.checkpoint_path = plan.checkpoint;
        last_checkpoint = trainer.epoch();
      }
      if (world.is_root()) {
        files.run_path = plan.run_file;
        if (images_off_thread) {
          files.run = &*run;
        } else {
          files.run_image = run->snapshot();
        }
        files.dir = plan.dir;
        files.status = "- running: " + std::to_string(trainer.epoch()) + " of " + std::to_string(cfg.epochs) +
                       " epochs done (" + iso_time_now() + ")";
        files.last_epoch = trainer.epoch() - 1;
        files.keep = cfg.keep_checkpoints;
        // Printed once durable: an epoch on the console is in the run file and (when due) the checkpoint.
        if (!cfg.quiet) files.console = (printed_rows++ % 25 == 0 ? header_line(r) : "") + row_line(r) + eval_line;
        writer->submit(std::move(files));
      }
      trainer.add_io_seconds(io_seconds + MPI_Wtime() - t_io);
      // Every way out below first waits for the epoch's files (and its console row).
      if (world.is_root() && (diverged || stop || target_reached)) writer->wait();
      if (diverged) {
        const std::string kept = last_checkpoint > 0 ? "the checkpoint of epoch " + std::to_string(last_checkpoint - 1) +
                                                           " is kept"
                                                     : "no checkpoint was written";
        const std::string what =
            "training diverged in epoch " + std::to_string(trainer.epoch() - 1) + ": " + r.non_finite + " is not finite";
        if (world.is_root()) record_end(run, plan.dir, kExitFailure, "failed: " + what, trainer.epoch());
        if (world.is_root())
          std::fprintf(stderr, "rlmpi: error: %s; %s (lower --pi-lr/--vf-lr, or set --max-grad-norm)\n", what.c_str(),
                       kept.c_str());
        return kExitFailure;
      }
      // --time-limit: stop now if another epoch like the longest so far (plus a checkpoint's worth
      // of margin) would not fit. Rank 0's clock decides, so every rank stops after the same epoch.
      bool out_of_time = false;
      if (cfg.time_limit && !last && !diverged && !target_reached) {
        const double now = MPI_Wtime();
        longest_epoch = std::max(longest_epoch, now - epoch_start);
        double verdict = (now - started) + 1.25 * longest_epoch + 5.0 > *cfg.time_limit ? 1.0 : 0.0;
        world.broadcast(std::span<double>(&verdict, 1));
        out_of_time = verdict != 0;
        if (out_of_time && world.is_root()) writer->wait();
        if (out_of_time && last_checkpoint != trainer.epoch()) {
          save_checkpoint(trainer, plan.checkpoint, cfg, world);
          last_checkpoint = trainer.epoch();
          if (world.is_root())
            keep_checkpoint_history(plan.dir, plan.checkpoint, trainer.epoch() - 1, cfg.keep_checkpoints);
        }
      }
      if (out_of_time) {
        const std::string what = "stopped before the time limit (" + fmt_number(*cfg.time_limit) + " s) after epoch " +
                                 std::to_string(trainer.epoch() - 1);
        if (world.is_root()) {
          record_end(run, plan.dir, kExitStoppedResumable, what, trainer.epoch());
          std::fprintf(stderr, "rlmpi: %s; resume with --resume auto --out %s\n", what.c_str(), plan.dir.c_str());
        }
        return kExitStoppedResumable;
      }
      if (target_reached) {
        if (world.is_root()) {
          record_end(run, plan.dir, kExitOk, target_message, trainer.epoch());
          std::printf("rlmpi: %s\n", target_message.c_str());
        }
        return kExitOk;
      }
      if (stop && !last) {
        if (world.is_root()) record_end(run, plan.dir, kExitStoppedResumable, "stopped by a signal after epoch " + std::to_string(trainer.epoch() - 1), trainer.epoch());
        if (world.is_root())
          std::fprintf(stderr, "rlmpi: stopped by a signal after epoch %d; resume with --resume auto --out %s\n",
                       trainer.epoch() - 1, plan.dir.c_str());
        return kExitStoppedResumable;
      }
    }
  } catch (const std::exception& e) {
    if (world.is_root()) {
      try {
        writer->wait();  // what was queued before the failure still lands
      } catch (const std::exception& w) {
        if (std::string_view(w.what()) != e.what())
          std::fprintf(stderr, "rlmpi: warning: a background file write failed: %s\n", w.what());
      }
      record_end(run, plan.dir, kExitFailure, std::string("failed: ") + e.what(), trainer.epoch());
    }
    throw;
  }
  if (world.is_root()) {
    writer->wait();
    record_end(run, plan.dir, kExitOk, "finished", trainer.epoch());
  }
  return kExitOk;
}

}  // namespace rlmpi::cli
