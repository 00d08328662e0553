// Types for dependencies that ship none.

declare module "fft.js" {
  export default class FFT {
    constructor(size: number);
    readonly size: number;
    createComplexArray(): number[];
    realTransform(output: ArrayLike<number> | number[], input: ArrayLike<number>): void;
    completeSpectrum(spectrum: ArrayLike<number> | number[]): void;
    transform(output: ArrayLike<number> | number[], input: ArrayLike<number>): void;
  }
}

declare module "gifenc" {
  export type Palette = number[][];
  export interface Encoder {
    writeFrame(
      index: Uint8Array,
      width: number,
      height: number,
      opts?: { palette?: Palette; delay?: number; repeat?: number; transparent?: boolean },
    ): void;
    finish(): void;
    bytes(): Uint8Array;
  }
  export function GIFEncoder(opts?: { auto?: boolean; initialCapacity?: number }): Encoder;
}

declare module "@echogarden/pffft-wasm/simd" {
  export interface PffftModule {
    HEAPF32: Float32Array;
    _pffft_new_setup(n: number, type: number): number;
    _pffft_destroy_setup(setup: number): void;
    _pffft_aligned_malloc(bytes: number): number;
    _pffft_aligned_free(ptr: number): void;
    _pffft_transform_ordered(setup: number, input: number, output: number, work: number, direction: number): void;
  }
  const factory: () => Promise<PffftModule>;
  export default factory;
}
