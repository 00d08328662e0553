/* FFTW baseline for bench/compute: real forward transforms per second, FFTW_MEASURE plans,
 * float (fftw3f) and double (fftw3). Usage: fftw-bench N SECONDS */
#include <fftw3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 4096;
  double secs = argc > 2 ? atof(argv[2]) : 1.0;
  float *inf = fftwf_alloc_real(n);
  fftwf_complex *outf = fftwf_alloc_complex(n / 2 + 1);
  double *ind = fftw_alloc_real(n);
  fftw_complex *outd = fftw_alloc_complex(n / 2 + 1);
  fftwf_plan pf = fftwf_plan_dft_r2c_1d(n, inf, outf, FFTW_MEASURE);
  fftw_plan pd = fftw_plan_dft_r2c_1d(n, ind, outd, FFTW_MEASURE);
  for (int i = 0; i < n; i++) { inf[i] = (float)((i * 7919) % 1000) / 1000.0f; ind[i] = inf[i]; }
  long count = 0;
  double t0 = now(), t;
  do { for (int k = 0; k < 16; k++) fftwf_execute(pf); count += 16; t = now(); } while (t - t0 < secs);
  double f_rate = count / (t - t0);
  count = 0; t0 = now();
  do { for (int k = 0; k < 16; k++) fftw_execute(pd); count += 16; t = now(); } while (t - t0 < secs);
  double d_rate = count / (t - t0);
  printf("{\"n\":%d,\"float_per_s\":%.1f,\"double_per_s\":%.1f}\n", n, f_rate, d_rate);
  return 0;
}
