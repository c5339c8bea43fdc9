// Preloaded (`node --import`) into every server process the benchmark starts: the server exits
// when the harness goes away (its stdin pipe closes), so no server outlives a killed harness.
// It only waits on a pipe, so it costs the measured process nothing.
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
process.stdin.resume()
