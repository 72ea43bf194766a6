package server

// Version is busd's release version. The server reports it in INFO and the
// busd command prints it for -v/--version.
const Version = "0.1.0"
