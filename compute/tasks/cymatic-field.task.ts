import { chooseModes, renderRows, type Mode, type Plate } from "../lib/chladni";

export interface CymaticFieldInput {
  plate: Plate;
  frequencies: number[];
  size: number;
  row0: number;
  row1: number;
  /** size×size Float32, written in place for rows [row0, row1). */
  field: SharedArrayBuffer;
}

/** Renders one band of rows of a Chladni field into shared memory; returns the modes chosen. */
export default function cymaticFieldTask(input: CymaticFieldInput): { modes: Mode[]; rows: number } {
  // Mode choice is cheap after the first call on a thread (the Bessel zeros are cached), and
  // doing it here keeps that first call off the service's event loop.
  const modes = chooseModes(input.plate, input.frequencies);
  renderRows(modes, input.size, input.row0, input.row1, new Float32Array(input.field));
  return { modes, rows: input.row1 - input.row0 };
}
