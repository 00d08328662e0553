import { loadConfig } from "../../services/lib/config";
import { PgliteDb } from "../../services/lib/db";

describe("embedded Postgres memory settings", () => {
  let db: PgliteDb | undefined;
  afterAll(() => db?.close());

  it("runs PGlite with the configured shared_buffers, work_mem, maintenance_work_mem and temp_buffers", async () => {
    const { pglite } = loadConfig({
      PGLITE_SHARED_BUFFERS_MB: "8",
      PGLITE_WORK_MEM_MB: "2",
      PGLITE_MAINTENANCE_WORK_MEM_MB: "24",
      PGLITE_TEMP_BUFFERS_MB: "3",
    });
    db = await PgliteDb.open("memory://", { memory: pglite });
    const show = async (name: string) => (await db!.query<Record<string, string>>(`SHOW ${name}`)).rows[0][name];
    expect(await show("shared_buffers")).toBe("8MB");
    expect(await show("work_mem")).toBe("2MB");
    expect(await show("maintenance_work_mem")).toBe("24MB");
    expect(await show("temp_buffers")).toBe("3MB");
  });
});
