// Micro-benchmark behind src/nn/kernels/tanh.hpp's float tanh without Eigen's |x| < 4e-4 branch
// (2026-12-01, Intel Xeon with AVX-512): one pass of 16-float packets over a 96 x 64 block in L1,
// thread CPU time, variants interleaved: V0 Eigen 3.4's ptanh, V1 its rational with vrcp14ps and
// one Newton step instead of the division (not adopted: rcp14's bits are an implementation's),
// V2 the rational and division without the tiny-x branch (adopted). Measured under load:
// 12.8 / 10.5 / 10.9 cycles per packet at 2.97 GHz; max relative error 1.96 / 2.47 / 1.96 eps.
//   g++ -O3 -march=x86-64-v4 -std=c++20 -I/usr/include/eigen3 tanh_avx512.cpp -o tanh_avx512
#include <Eigen/Core>
#include <immintrin.h>
#include <ctime>
#include <cstdio>
#include <cmath>
#include <vector>
#include <algorithm>
#include <random>
namespace ei=Eigen::internal;
using P=ei::Packet16f; using Index=long;
static double cpu(){timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+1e-9*t.tv_nsec;}
// Eigen 3.4's clamp and [13/6] rational: p/q = tanh(x).
static inline void rational(const P& a_x, P& p, P& q){
  const P x = ei::pmax(ei::pmin(a_x, ei::pset1<P>(7.99881172180175781f)), ei::pset1<P>(-7.99881172180175781f));
  const P x2 = ei::pmul(x,x);
  p = ei::pmadd(x2, ei::pset1<P>(-2.76076847742355e-16f), ei::pset1<P>(2.00018790482477e-13f));
  p = ei::pmadd(x2,p,ei::pset1<P>(-8.60467152213735e-11f));
  p = ei::pmadd(x2,p,ei::pset1<P>(5.12229709037114e-08f));
  p = ei::pmadd(x2,p,ei::pset1<P>(1.48572235717979e-05f));
  p = ei::pmadd(x2,p,ei::pset1<P>(6.37261928875436e-04f));
  p = ei::pmadd(x2,p,ei::pset1<P>(4.89352455891786e-03f));
  p = ei::pmul(x,p);
  q = ei::pmadd(x2, ei::pset1<P>(1.19825839466702e-06f), ei::pset1<P>(1.18534705686654e-04f));
  q = ei::pmadd(x2,q,ei::pset1<P>(2.26843463243900e-03f));
  q = ei::pmadd(x2,q,ei::pset1<P>(4.89352518554385e-03f));
}
static inline P tanh_rcp(const P& a_x){
  P p, q; rational(a_x, p, q);
  P r = _mm512_rcp14_ps(q);
  // r = r (2 - q r); y = p r; one Newton step: rel err ~2^-28
  r = ei::pmul(r, _mm512_fnmadd_ps(q, r, ei::pset1<P>(2.0f)));
  return ei::pmul(p, r);
}
static inline P tanh_nodiv_mask(const P& a_x){ // Eigen's minus the tiny-x branch
  P p, q; rational(a_x, p, q);
  return ei::pdiv(p,q);
}
template<int V> __attribute__((noinline)) void pass(float* z, Index n){
  for(Index c=0;c<n;c+=16){ P v=ei::ploadu<P>(z+c);
    if constexpr(V==0) v=ei::ptanh(v); else if constexpr(V==1) v=tanh_rcp(v); else v=tanh_nodiv_mask(v);
    ei::pstoreu(z+c,v);} }
int main(){
  const Index n=96*64; std::vector<float> z(n), z0(n); std::mt19937 g(1); std::normal_distribution<float> d(0,1.5f);
  for(auto&x:z0)x=d(g);
  // accuracy
  for(int V=0;V<3;V++){ z=z0; if(V==0)pass<0>(z.data(),n); else if(V==1)pass<1>(z.data(),n); else pass<2>(z.data(),n);
    double worst=0; for(Index i=0;i<n;i++){ double t=std::tanh((double)z0[i]); double u=std::abs(z[i]-t)/std::max(std::abs(t),1e-30)/1.19e-7; worst=std::max(worst,u);} printf("V%d max rel err %.2f eps\n",V,worst);}
  const int inner=2000; std::vector<double> t[3];
  for(int rep=0;rep<15;rep++) for(int V=0;V<3;V++){ z=z0; double t0=cpu(); for(int i=0;i<inner;i++){ if(V==0)pass<0>(z.data(),n); else if(V==1)pass<1>(z.data(),n); else pass<2>(z.data(),n); for(Index j=0;j<n;j+=997) z[j]=z0[j]; } t[V].push_back((cpu()-t0)/inner/(n/16)*1e9);}
  for(int V=0;V<3;V++){ std::sort(t[V].begin(),t[V].end()); printf("V%d %.3f ns/packet = %.1f cycles @2.97GHz\n",V,t[V][7],t[V][7]*2.97);}
}
