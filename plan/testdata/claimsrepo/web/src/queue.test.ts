describe("queue", () => {
  it("never loses acknowledged writes", () => {});
  it("renders the empty state", () => {});
});
