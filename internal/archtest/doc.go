// Package archtest holds tests of the repository's structure, not of its
// behaviour: the production binaries link no development tooling, and the
// production image builds only production commands. It has no code of its own.
package archtest
