// Micro-benchmark: the 4 -> 64 input layer's kernels (src/nn/kernels/skinny.hpp, replicas) on a 96-row
// block: `expand` as it is (one row at a time), expanding two rows per load of the weights, and the
// weight gradient `outer_block<4, 2, bias>`. Thread CPU time, median of 11. 2026-12-01, AMD EPYC
// znver3 (KVM), avx2 peak 102.3 GFLOP/s: 62.0, 63.2 and 77.4 GFLOP/s (two rows: no gain).
//   g++ -O3 -march=x86-64-v3 -std=c++20 -I/usr/include/eigen3 skinny_avx2.cpp -o skinny_avx2
#include <Eigen/Core>
#include <ctime>
#include <cstdio>
#include <vector>
#include <algorithm>
namespace ei=Eigen::internal; using P=ei::Packet8f; using Index=long;
static double cpu(){timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+1e-9*t.tv_nsec;}
constexpr Index W=8; constexpr int F=4;
__attribute__((noinline)) void expand0(Index n, Index wide, const float* s, Index lds, const float* m, Index ldm, const float* init, float* y, Index ldy){
  for(Index i=0;i<n;++i){const float* si=s+i*lds; float* yi=y+i*ldy; P b[F]; for(int j=0;j<F;++j) b[j]=ei::pset1<P>(si[j]);
    for(Index c=0;c<wide;c+=W){P acc=ei::ploadu<P>(init+c); for(int j=0;j<F;++j) acc=ei::pmadd(b[j],ei::ploadu<P>(m+j*ldm+c),acc); ei::pstoreu(yi+c,acc);}}
}
__attribute__((noinline)) void expand2(Index n, Index wide, const float* s, Index lds, const float* m, Index ldm, const float* init, float* y, Index ldy){
  Index i=0;
  for(;i+2<=n;i+=2){const float* si=s+i*lds; float* yi=y+i*ldy; P b0[F],b1[F]; for(int j=0;j<F;++j){ b0[j]=ei::pset1<P>(si[j]); b1[j]=ei::pset1<P>(si[lds+j]);}
    for(Index c=0;c<wide;c+=W){const P in=ei::ploadu<P>(init+c); P a0=in,a1=in; for(int j=0;j<F;++j){const P mj=ei::ploadu<P>(m+j*ldm+c); a0=ei::pmadd(b0[j],mj,a0); a1=ei::pmadd(b1[j],mj,a1);} ei::pstoreu(yi+c,a0); ei::pstoreu(yi+ldy+c,a1);}}
  if(i<n) expand0(n-i,wide,s+i*lds,lds,m,ldm,init,y+i*ldy,ldy);
}
template<int FF,int B> __attribute__((noinline)) void outer_block(Index i0, Index i1, Index c0, const float* s, Index lds, const float* v, Index ldv, float* acc, Index wide, float* bias){
  P a[FF][B]; P ab[B];
  for(int j=0;j<FF;++j)for(int b=0;b<B;++b)a[j][b]=ei::ploadu<P>(acc+j*wide+c0+b*W);
  for(int b=0;b<B;++b)ab[b]=ei::ploadu<P>(bias+c0+b*W);
  for(Index i=i0;i<i1;++i){P vv[B]; for(int b=0;b<B;++b)vv[b]=ei::ploadu<P>(v+i*ldv+c0+b*W);
    for(int j=0;j<FF;++j){const P sj=ei::pset1<P>(s[i*lds+j]); for(int b=0;b<B;++b)a[j][b]=ei::pmadd(sj,vv[b],a[j][b]);}
    for(int b=0;b<B;++b)ab[b]=ei::padd(ab[b],vv[b]);}
  for(int j=0;j<FF;++j)for(int b=0;b<B;++b)ei::pstoreu(acc+j*wide+c0+b*W,a[j][b]);
  for(int b=0;b<B;++b)ei::pstoreu(bias+c0+b*W,ab[b]);
}
void outer(Index n, const float* s, const float* v, float* acc, float* bias){
  for(Index i0=0;i0<n;i0+=32){Index i1=std::min(n,i0+32); for(Index c=0;c<64;c+=16) outer_block<4,2>(i0,i1,c,s,4,v,64,acc,64,bias);}
}
int main(){ const Index n=96; std::vector<float> s(n*4+8,0.3f), m(4*64,0.2f), init(64,0.1f), y(n*64+64), v(n*64,0.01f), acc(4*64), bias(64);
  std::vector<double> t[3]; const int inner=20000;
  for(int rep=0;rep<11;rep++) for(int V=0;V<3;V++){ double t0=cpu(); for(int it=0;it<inner;it++){ if(V==0) expand0(n,64,s.data(),4,m.data(),64,init.data(),y.data(),64); else if(V==1) expand2(n,64,s.data(),4,m.data(),64,init.data(),y.data(),64); else outer(n,s.data(),v.data(),acc.data(),bias.data());}
    t[V].push_back(2.0*n*4*64/((cpu()-t0)/inner)*1e-9);}
  const char* nm[3]={"expand (now)","expand 2 rows","outer<4,2,bias>"};
  for(int V=0;V<3;V++){std::sort(t[V].begin(),t[V].end()); std::printf("%s: median %.1f GFLOP/s\n",nm[V],t[V][5]);}
}
