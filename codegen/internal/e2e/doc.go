// Package e2e holds services declared as Go interfaces, with their generated code
// committed, which the tests compile and call end to end over in-process buses. The
// codegen regeneration check covers the generated files here like any other.
package e2e
