/** Bessel functions of the first kind for integer order, and their zeros. */

const QUAD_POINTS = 96;

/**
 * J_m(x) from Bessel's integral, J_m(x) = (1/π)∫₀^π cos(mτ − x·sin τ) dτ, by the trapezoid rule:
 * the integrand is smooth and periodic, so the rule converges exponentially (error < 1e-12 here
 * for x ≤ 80, m ≤ 40).
 */
export function besselJ(m: number, x: number): number {
  let s = 0;
  for (let i = 0; i <= QUAD_POINTS; i++) {
    const t = (Math.PI * i) / QUAD_POINTS;
    const v = Math.cos(m * t - x * Math.sin(t));
    s += i === 0 || i === QUAD_POINTS ? v / 2 : v;
  }
  return s / QUAD_POINTS;
}

/** The first `count` positive zeros of J_m, by a scan and bisection. */
export function besselZeros(m: number, count: number): number[] {
  const zeros: number[] = [];
  const step = 0.05;
  // Near 0, J_m(x) ≈ (x/2)^m / m! is below the quadrature's round-off for large m, whose sign
  // then flips at random and gives false zeros (j_10,1 came out as 0.07 instead of 14.48). Every
  // positive zero lies beyond m (j_m,1 > √(m(m+2)) ≥ m), so the scan starts at m.
  let a = Math.max(step, m);
  let fa = besselJ(m, a);
  while (zeros.length < count) {
    const b = a + step;
    const fb = besselJ(m, b);
    if (fa === 0) zeros.push(a);
    else if (fa * fb < 0) {
      let lo = a;
      let hi = b;
      let flo = fa;
      for (let i = 0; i < 60; i++) {
        const mid = (lo + hi) / 2;
        const fm = besselJ(m, mid);
        if (flo * fm <= 0) hi = mid;
        else {
          lo = mid;
          flo = fm;
        }
      }
      zeros.push((lo + hi) / 2);
    }
    a = b;
    fa = fb;
  }
  return zeros;
}
