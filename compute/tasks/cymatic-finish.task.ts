import { threadPlans, type PlanStats } from "../lib/fft";
import {
  dominantSpatialFrequencies,
  nodalFraction,
  patternRgba,
  resample,
  symmetryOrder,
  type SpatialFrequency,
} from "../lib/cymatic-analysis";
import { encodePng } from "../lib/png";

export interface CymaticFinishInput {
  field: SharedArrayBuffer;
  size: number;
  /** Side of the preview grid returned as numbers. */
  preview: number;
  png: boolean;
}

export interface CymaticFinishResult {
  nodal_fraction: number;
  symmetry_order: number;
  spatial_frequencies: SpatialFrequency[];
  /** preview×preview values in [-1, 1], 3 decimals, row-major; 0 outside a circular plate. */
  preview: number[][];
  png?: Uint8Array;
  plans: PlanStats;
}

/** Analysis of a rendered field, its preview grid and, when asked, its PNG. */
export default async function cymaticFinishTask(input: CymaticFinishInput): Promise<CymaticFinishResult> {
  const plans = await threadPlans();
  const field = new Float32Array(input.field);
  const small = resample(field, input.size, input.preview);
  const preview: number[][] = [];
  for (let j = 0; j < input.preview; j++) {
    preview.push(
      Array.from(small.subarray(j * input.preview, (j + 1) * input.preview), (v) => Math.round(v * 1000) / 1000 || 0),
    );
  }
  const result: CymaticFinishResult = {
    nodal_fraction: Math.round(nodalFraction(field) * 1e4) / 1e4,
    symmetry_order: symmetryOrder(field, input.size),
    spatial_frequencies: dominantSpatialFrequencies(plans, field, input.size, 3),
    preview,
    plans: { hits: 0, misses: 0 },
  };
  if (input.png) result.png = encodePng(patternRgba(field), input.size, input.size);
  result.plans = plans.takeStats();
  return result;
}
