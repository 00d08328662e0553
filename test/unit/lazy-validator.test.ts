import { ServiceBroker, type ServiceSchema } from "moleculer";
import { LazyValidator } from "../../moleculer.config";

const sizes: ServiceSchema = {
  name: "sizes",
  actions: {
    square: {
      params: { n: { type: "number", max: 10 }, unit: { type: "enum", values: ["m", "cm"], optional: true } },
      handler: (ctx) => (ctx.params as { n: number }).n ** 2,
    },
    half: { params: { n: { type: "number" } }, handler: (ctx) => (ctx.params as { n: number }).n / 2 },
  },
};

/** What a call answers: its value, or its error's name and data. */
async function outcome(broker: ServiceBroker, params: unknown): Promise<unknown> {
  try {
    return { value: await broker.call("sizes.square", params) };
  } catch (err) {
    return { error: (err as Error).name, data: (err as { data?: unknown }).data };
  }
}

describe("moleculer.config.LazyValidator", () => {
  const validator = new LazyValidator();
  const lazy = new ServiceBroker({ logger: false, validator });
  const eager = new ServiceBroker({ logger: false });
  lazy.createService(sizes);
  eager.createService(sizes);
  beforeAll(() => Promise.all([lazy.start(), eager.start()]));
  afterAll(() => Promise.all([lazy.stop(), eager.stop()]));

  it("compiles no params schema while the services are created and started", () => {
    expect(validator.compiled).toBe(0);
  });

  it("compiles an action's schema on its first call, once", async () => {
    expect(await lazy.call("sizes.square", { n: 3 })).toBe(9);
    await lazy.call("sizes.square", { n: 4 });
    expect(validator.compiled).toBe(1);
  });

  it.each([[{ n: 3 }], [{ n: 11 }], [{ n: "3" }], [{}], [{ n: 2, unit: "km" }], [{ n: 2, unit: "cm" }]])(
    "answers %j as Moleculer's own validator does",
    async (params) => {
      expect(await outcome(lazy, params)).toEqual(await outcome(eager, params));
    },
  );
});
