package badoutput

// This file was written by hand; codegen must not overwrite it.
