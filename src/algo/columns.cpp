#include "rlmpi/algo/columns.hpp"

namespace rlmpi::algo {
namespace {

constexpr ColumnInfo kColumns[] = {
    {"Epoch", "Epoch", "epoch index, from 0", "", true, true},
    {"AverageEpRet", "AvgEpRet", "mean undiscounted return of the episodes that finished this epoch (all ranks; NaN if none)", "", true, false},
    {"StdEpRet", "StdEpRet", "population std of those returns", "", true, false},
    {"MaxEpRet", "MaxEpRet", "largest of those returns", "", true, false},
    {"MinEpRet", "MinEpRet", "smallest of those returns", "", true, false},
    {"EpLen", "EpLen", "mean length of those episodes", "steps", true, false},
    {"AverageVVals", "AvgVVals", "mean value estimate V(s) along the epoch's rollout", "", true, false},
    {"StdVVals", "StdVVals", "population std of the value estimates", "", false, false},
    {"MaxVVals", "MaxVVals", "largest value estimate", "", false, false},
    {"MinVVals", "MinVVals", "smallest value estimate", "", false, false},
    {"TotalEnvInteracts", "EnvSteps", "environment steps so far, all ranks", "steps", true, true},
    {"LossPi", "LossPi", "policy loss before the update", "", true, false},
    {"LossV", "LossV", "value loss (mean squared error) before the update", "", true, false},
    {"DeltaLossPi", "DeltaLossPi", "change of the policy loss by the update", "", false, false},
    {"DeltaLossV", "DeltaLossV",
     "change of the value loss by the update (critic on minibatches: the last update epoch's minibatch losses, each "
     "before its step, minus the loss before)",
     "", false, false},
    {"Entropy", "Entropy", "mean policy entropy at the rollout policy (summed over action dimensions)", "nats", true, false},
    {"KL", "KL", "mean KL divergence between the rollout policy and the updated one", "nats", true, false},
    {"ClipFrac", "ClipFrac", "PPO-clip: fraction of samples whose ratio was clipped", "", true, false},
    {"StopIter", "StopIter", "PPO: policy iterations run before the KL early stop", "", true, true},
    {"Beta", "Beta", "PPO-penalty: the adaptive KL coefficient after the update", "", true, false},
    {"BacktrackIters", "Backtrack", "TRPO: line-search steps taken (backtrack-iters: the step was rejected)", "", true, true},
    {"Diverged", "Diverged", "environment steps whose physics diverged (episode ended), all ranks", "steps", false, true},
    {"Episodes", "Episodes", "episodes that finished this epoch, all ranks", "", false, true},
    {"Time", "Time", "wall time since the run started (continues across resumes)", "s", true, false},
    {"TimeRollout", "TimeRollout", "this epoch's rollout time on rank 0, MPI calls excluded", "s", false, false},
    {"TimeUpdate", "TimeUpdate", "this epoch's update time on rank 0, MPI calls excluded", "s", false, false},
    {"TimeComm", "TimeComm", "time rank 0 spent inside MPI calls this epoch (including waits for other ranks)", "s", false, false},
    {"TimeIO", "TimeIO", "what rank 0's run-file and checkpoint writes after the previous epoch cost the training path (written in the background; evaluation excluded)", "s", false, false},
    {"UpdateGFLOPS", "UpdateGFLOPS", "rank 0's GEMM rate during the update, MPI calls excluded", "GFLOP/s", false, false},
    {"StepsPerSecond", "Steps/s", "environment steps per second this epoch, all ranks", "steps/s", true, false},
};

}  // namespace

std::span<const ColumnInfo> column_table() { return kColumns; }

const ColumnInfo* find_column(std::string_view name) {
  for (const auto& c : column_table())
    if (name == c.name) return &c;
  return nullptr;
}

std::string info_column_description(std::string_view name) {
  return "mean per environment step of the environment's info term '" +
         std::string(name.substr(name.starts_with("info.") ? 5 : 0)) + "' (all ranks)";
}

}  // namespace rlmpi::algo
