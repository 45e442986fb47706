// Micro-benchmark behind src/nn/kernels/skinny.hpp's rows per call in `contract` (2026-11-30):
// a 96 x 64 batch against F output rows (F = 2..8: a policy's output layer; 8: the rollout's
// 64 x 64 layer in groups of 8), 4 rows per call against fewer, thread CPU time, interleaved.
// With 16 AVX2 registers, 4 rows x 8 outputs = 32 accumulators spill. Standalone replica, AVX2:
//   g++ -O3 -march=x86-64-v3 -std=c++20 -I/usr/include/eigen3 contract_rows.cpp -o contract_rows
// 2026-11-30, AMD EPYC znver3 (KVM), during a CI build on the other core:
//   F=8: R=4 3.316 us, R=1 2.060 us per 96 rows, ratio 1.61
//   F=6: R=4 2.064 us, R=1 1.432 us per 96 rows, ratio 1.44
//   F=4: R=4 1.273 us, R=2 1.032 us per 96 rows, ratio 1.23
//   F=5: R=4 1.571 us, R=2 1.179 us per 96 rows, ratio 1.33
//   F=3: R=4 0.695 us, R=4 0.667 us per 96 rows, ratio 1.04 (the same code: noise)
//   F=3: R=4 0.815 us, R=2 0.918 us per 96 rows, ratio 0.89
//   F=2: R=4 0.661 us, R=4 0.669 us per 96 rows, ratio 0.99 (the same code: noise)
#include <Eigen/Core>
#include <ctime>
#include <cstdio>
#include <vector>
#include <algorithm>
#include <random>
namespace ei=Eigen::internal;
using P=ei::Packet8f; using Index=long;
static double cpu(){timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+1e-9*t.tv_nsec;}
template<int F,int R> __attribute__((noinline)) void rows(Index i0,const float* h, const float* m, float* y){
  P acc[R][F]; for(int r=0;r<R;r++)for(int j=0;j<F;j++)acc[r][j]=ei::pset1<P>(0.f);
  for(Index c=0;c<64;c+=8){P mv[F]; for(int j=0;j<F;j++)mv[j]=ei::ploadu<P>(m+j*64+c);
    for(int r=0;r<R;r++){P hv=ei::ploadu<P>(h+(i0+r)*64+c); for(int j=0;j<F;j++)acc[r][j]=ei::pmadd(hv,mv[j],acc[r][j]);}}
  for(int r=0;r<R;r++)for(int j=0;j<F;j++) y[(i0+r)*F+j]=ei::predux(acc[r][j]);}
template<int F,int R> void run(Index n,const float*h,const float*m,float*y){Index i=0; for(;i+R<=n;i+=R) rows<F,R>(i,h,m,y); for(;i<n;i++) rows<F,1>(i,h,m,y);}
template<int F,int R2> void cmp(const float*h,const float*m,float*y){
  const int reps=300; std::vector<double> a,b;
  for(int k=0;k<15;k++){double t0=cpu(); for(int i=0;i<reps;i++) run<F,4>(96,h,m,y); a.push_back(cpu()-t0);
    t0=cpu(); for(int i=0;i<reps;i++) run<F,R2>(96,h,m,y); b.push_back(cpu()-t0);}
  std::sort(a.begin(),a.end());std::sort(b.begin(),b.end());
  printf("F=%d: R=4 %.3f us, R=%d %.3f us per 96 rows, ratio %.2f\n",F,a[7]/reps*1e6,R2,b[7]/reps*1e6,a[7]/b[7]);}
int main(){ std::vector<float> h(96*64), m(64*64), y(96*8); std::mt19937 g(1); std::normal_distribution<float> nd(0,0.5f);
  for(auto&v:h)v=nd(g); for(auto&v:m)v=nd(g);
  cmp<8,1>(h.data(),m.data(),y.data()); cmp<6,1>(h.data(),m.data(),y.data()); cmp<4,2>(h.data(),m.data(),y.data()); cmp<5,2>(h.data(),m.data(),y.data()); cmp<3,4>(h.data(),m.data(),y.data()); cmp<3,2>(h.data(),m.data(),y.data()); cmp<2,4>(h.data(),m.data(),y.data());}
