// Micro-benchmark behind src/nn/kernels/{dense,skinny}.hpp's "tanh as a pass over the rows just
// written" (2026-11-30): the dense kernel's 6 x 2 AVX2 tile and the 4 -> 64 expand loop, with
// tanh applied in the tile's store loop ("fused") or as a plain pass over the finished rows
// ("split"), timed interleaved in one process by thread CPU time (this machine's wall clock
// swings by 25-40 % between runs). Standalone replica of the kernels' loops, AVX2 only:
//   g++ -O3 -march=x86-64-v3 -std=c++20 -I/usr/include/eigen3 tanh_epilogue.cpp -o tanh_epilogue
#include <Eigen/Core>
#include <ctime>
#include <cstdio>
#include <vector>
#include <algorithm>
#include <random>
namespace ei=Eigen::internal;
using P=ei::Packet8f; using Index=long;
static double cpu(){timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+1e-9*t.tv_nsec;}
template<bool T>
__attribute__((noinline)) void tile(Index i0, Index o0, const float* x, const float* b, const float* init, float* y){
  P acc[6][2];
  for(int p=0;p<2;p++){P s=ei::ploadu<P>(init+o0+p*8); for(int r=0;r<6;r++)acc[r][p]=s;}
  for(Index k=0;k<64;k++){P bk[2]; for(int p=0;p<2;p++)bk[p]=ei::ploadu<P>(b+k*64+o0+p*8);
    for(int r=0;r<6;r++){P xr=ei::pset1<P>(x[(i0+r)*64+k]); for(int p=0;p<2;p++)acc[r][p]=ei::pmadd(xr,bk[p],acc[r][p]);}}
  for(int r=0;r<6;r++)for(int p=0;p<2;p++){float*out=y+(i0+r)*64+o0+p*8; ei::pstoreu(out, T? ei::ptanh(acc[r][p]) : acc[r][p]);}
}
__attribute__((noinline)) void tanh_row(float* z, Index n){ for(Index c=0;c<n;c+=8) ei::pstoreu(z+c,ei::ptanh(ei::ploadu<P>(z+c)));}
void dense_fused(Index n,const float*x,const float*b,const float*init,float*y){ for(Index i=0;i<n;i+=6) for(Index o=0;o<64;o+=16) tile<true>(i,o,x,b,init,y);}
void dense_split(Index n,const float*x,const float*b,const float*init,float*y){ for(Index i=0;i<n;i+=6){ for(Index o=0;o<64;o+=16) tile<false>(i,o,x,b,init,y); for(int r=0;r<6;r++) tanh_row(y+(i+r)*64,64);}}
void dense_none(Index n,const float*x,const float*b,const float*init,float*y){ for(Index i=0;i<n;i+=6) for(Index o=0;o<64;o+=16) tile<false>(i,o,x,b,init,y);}
__attribute__((noinline)) void exp_fused(Index n,const float*s,const float*m,const float*init,float*y){
  for(Index i=0;i<n;i++){ const float* si=s+i*4; float* yi=y+i*64; P b[4]; for(int j=0;j<4;j++)b[j]=ei::pset1<P>(si[j]);
    for(Index c=0;c<64;c+=8){P acc=ei::ploadu<P>(init+c); for(int j=0;j<4;j++)acc=ei::pmadd(b[j],ei::ploadu<P>(m+j*64+c),acc); ei::pstoreu(yi+c,ei::ptanh(acc));}}}
__attribute__((noinline)) void exp_row(Index n,const float*s,const float*m,const float*init,float*y){
  for(Index i=0;i<n;i++){ const float* si=s+i*4; float* yi=y+i*64; P b[4]; for(int j=0;j<4;j++)b[j]=ei::pset1<P>(si[j]);
    for(Index c=0;c<64;c+=8){P acc=ei::ploadu<P>(init+c); for(int j=0;j<4;j++)acc=ei::pmadd(b[j],ei::ploadu<P>(m+j*64+c),acc); ei::pstoreu(yi+c,acc);}
    tanh_row(yi,64);}}
int main() {
  const Index N=96, reps=2000;
  std::vector<float> x(N*64), w(64*64), y(N*64), b(64);
  std::mt19937 g(1); std::normal_distribution<float> nd(0,0.5f);
  for (auto& v : x) v = nd(g);
  for (auto& v : w) v = nd(g) * 0.25f;
  for (auto& v : b) v = nd(g);
  auto t=[&](auto f){double t0=cpu(); for(Index i=0;i<reps;i++) f(); return (cpu()-t0)/reps;};
  std::vector<double> rd, re, a,bb,c,d,e;
  for(int r=0;r<41;r++){
    double t1=t([&]{dense_fused(N,x.data(),w.data(),b.data(),y.data());});
    double t2=t([&]{dense_split(N,x.data(),w.data(),b.data(),y.data());});
    double t5=t([&]{dense_none(N,x.data(),w.data(),b.data(),y.data());});
    double t3=t([&]{exp_fused(N,x.data(),w.data(),b.data(),y.data());});
    double t4=t([&]{exp_row(N,x.data(),w.data(),b.data(),y.data());});
    rd.push_back(t1/t2); re.push_back(t3/t4); a.push_back(t1);bb.push_back(t2);c.push_back(t3);d.push_back(t4);e.push_back(t5);}
  auto med=[](std::vector<double> v){std::sort(v.begin(),v.end()); return v[v.size()/2];};
  printf("dense: fused %.2f us split %.2f us none %.2f us ratio fused/split %.3f\n",med(a)*1e6,med(bb)*1e6,med(e)*1e6,med(rd));
  printf("expand4: fused %.2f us split %.2f us ratio %.3f\n",med(c)*1e6,med(d)*1e6,med(re));
}
