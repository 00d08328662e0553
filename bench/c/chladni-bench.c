/* C baseline for bench/compute: the square-plate Chladni field on an N×N grid, the same
 * separable formula as compute/lib/chladni.ts (cosine tables per axis, two products per cell).
 * Usage: chladni-bench N REPEATS  ->  ms per grid */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int size = argc > 1 ? atoi(argv[1]) : 2048;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  int n = 8, m = 6; double s = -1.0; /* the mode of 1000 Hz */
  float *out = malloc(sizeof(float) * size * size);
  double *cn = malloc(sizeof(double) * size), *cm = malloc(sizeof(double) * size);
  double best = 1e9, checksum = 0;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    for (int i = 0; i < size; i++) {
      double x = (i + 0.5) / size;
      cn[i] = cos(n * M_PI * x);
      cm[i] = cos(m * M_PI * x);
    }
    for (int j = 0; j < size; j++)
      for (int i = 0; i < size; i++)
        out[j * size + i] = (float)((cn[i] * cm[j] + s * cm[i] * cn[j]) / 2);
    double t = now() - t0;
    if (t < best) best = t;
    checksum += out[(size / 3) * size + size / 5];
  }
  printf("{\"size\":%d,\"ms\":%.3f,\"checksum\":%g}\n", size, best * 1000, checksum);
  return 0;
}
