/**
 * Prints one plain closing line, "N passed, N failed, N skipped", after jest's own summary, so
 * that tools reading the last lines of a run see how many tests ran.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `\nmcai: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`;
    // After jest's own summary, which other reporters print after this one.
    process.once("exit", () => process.stdout.write(line));
  }
}
module.exports = SummaryReporter;
