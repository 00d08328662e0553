import { besselJ, besselZeros } from "../../compute/lib/bessel";
import {
  chooseModes,
  circleMode,
  renderRows,
  rowBands,
  squareMode,
  SQUARE_HZ,
  type Mode,
} from "../../compute/lib/chladni";
import { nodalFraction, symmetryOrder, dominantSpatialFrequencies } from "../../compute/lib/cymatic-analysis";
import { loadPffft, PlanCache } from "../../compute/lib/fft";

function field(modes: Mode[], size: number): Float32Array {
  const f = new Float32Array(size * size);
  renderRows(modes, size, 0, size, f);
  return f;
}

describe("bessel", () => {
  it("matches tabulated values and zeros", () => {
    expect(besselJ(0, 0)).toBeCloseTo(1, 12);
    expect(besselJ(1, 1)).toBeCloseTo(0.44005058574493355, 12);
    expect(besselJ(2, 5)).toBeCloseTo(0.04656511627775222, 12);
    expect(besselZeros(0, 2)[0]).toBeCloseTo(2.404825557695773, 9);
    expect(besselZeros(0, 2)[1]).toBeCloseTo(5.520078110286311, 9);
    expect(besselZeros(1, 1)[0]).toBeCloseTo(3.831705970207512, 9);
    expect(besselZeros(3, 1)[0]).toBeCloseTo(6.380161895923984, 9);
  });

  it.each([
    [10, 14.47550068655454],
    [20, 25.41714081407252],
    [30, 36.09833695674772],
  ])("finds the first zero of J_%i at %f, not round-off near 0", (m, zero) => {
    expect(besselZeros(m, 1)[0]).toBeCloseTo(zero, 6);
  });
});

describe("chladni modes", () => {
  it("pick the square mode whose f = SQUARE_HZ·(n² + m²) is nearest", () => {
    expect(squareMode(1000)).toMatchObject({ n: 8, m: 6, frequency: 1000, sign: -1 });
    expect(squareMode(SQUARE_HZ * (25 + 4))).toMatchObject({ n: 5, m: 2, sign: 1 });
    const c = circleMode(10 * 6.380161895923984 ** 2);
    expect(c).toMatchObject({ m: 3, n: 1 });
  });

  it("put the zero set where the formula says: the diagonal for s = −1", () => {
    const size = 256;
    const f = field([squareMode(1000)], size); // (8, 6), s = −1: u(x, x) = 0
    for (let i = 0; i < size; i++) expect(Math.abs(f[i * size + i])).toBeLessThan(1e-6);
    // Off the diagonal it is not identically zero.
    expect(Math.max(...Array.from(f).map(Math.abs))).toBeGreaterThan(0.5);
  });

  it("put the zero set on the anti-diagonal for s = +1 with n + m odd", () => {
    const size = 200;
    const f = field([squareMode(SQUARE_HZ * 29)], size); // (5, 2), s = +1
    for (let i = 0; i < size; i++) expect(Math.abs(f[i * size + (size - 1 - i)])).toBeLessThan(1e-6);
  });

  it("make the rim and the nodal diameters of a circular mode zero", () => {
    const mode = circleMode(10 * 6.380161895923984 ** 2); // J_3: three nodal diameters
    const size = 401;
    const f = field([mode], size);
    const c = (size - 1) / 2;
    // On the ray θ = π/6, cos(3θ) = 0.
    for (let r = 10; r < 190; r += 10) {
      const x = Math.round(c + r * Math.cos(Math.PI / 6));
      const y = Math.round(c + r * Math.sin(Math.PI / 6));
      expect(Math.abs(f[y * size + x])).toBeLessThan(0.08);
    }
    expect(Number.isNaN(f[0])).toBe(true); // the corner is off the plate
  });

  it("give the symmetry expected of symmetric modes", () => {
    const size = 256;
    expect(symmetryOrder(field([circleMode(10 * 6.380161895923984 ** 2)], size), size)).toBe(6); // |cos 3θ|
    expect(symmetryOrder(field([circleMode(10 * 2.404825557695773 ** 2)], size), size)).toBe(24); // J_0: radial
    expect(symmetryOrder(field([squareMode(1000)], size), size)).toBe(4);
  });

  it("find the mode's spatial frequencies with the 2D FFT", async () => {
    const plans = new PlanCache(await loadPffft());
    const size = 256;
    const top = dominantSpatialFrequencies(plans, field([squareMode(1000)], size), size, 2);
    // cos(8πx)·cos(6πy) has 4 and 3 cycles across the plate.
    expect(top.map((t) => [t.cycles_x, t.cycles_y]).sort()).toEqual([
      [3, 4],
      [4, 3],
    ]);
  });

  it("measure the nodal share and superpose several frequencies", () => {
    const size = 256;
    const one = nodalFraction(field(chooseModes("square", [1000]), size));
    expect(one).toBeGreaterThan(0.02);
    expect(one).toBeLessThan(0.4);
    // Several frequencies superpose their modes, each scaled to the same peak: the mean of the singles.
    const [a, b] = chooseModes("square", [1000, 2300]);
    const both = field([a, b], size);
    const fa = field([a], size);
    const fb = field([b], size);
    let worst = 0;
    for (let i = 0; i < both.length; i++) worst = Math.max(worst, Math.abs(both[i] - (fa[i] + fb[i]) / 2));
    expect(worst).toBeLessThan(1e-6);
    expect(a.n * a.n + a.m * a.m).not.toBe(b.n * b.n + b.m * b.m);
  });

  it("render in bands that equal the whole grid bit for bit", () => {
    const size = 333;
    for (const modes of [chooseModes("square", [1500, 400]), chooseModes("circle", [900])]) {
      const whole = field(modes, size);
      const banded = new Float32Array(size * size);
      for (const [a, b] of rowBands(size, 3)) renderRows(modes, size, a, b, banded);
      expect(Buffer.from(banded.buffer).equals(Buffer.from(whole.buffer))).toBe(true);
    }
    expect(rowBands(10, 3)).toEqual([
      [0, 3],
      [3, 6],
      [6, 10],
    ]);
  });
});
