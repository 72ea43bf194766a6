// Package templates holds the text codegen renders, as text/template files
// embedded in the binary. It is internal to codegen: the generated code and the
// scaffolded files are the product, not this API.
//
// Every Go file the tools write comes from a file named *.go.tmpl in this directory
// tree, so what the generated code looks like can be read as (templated) Go:
//
//	codegen/service.go.tmpl      the file `dialtone codegen -type X` writes beside an interface
//	scaffold/*.tmpl              the files `dialtone codegen new` writes for a new service
//
// Codegen and Scaffold are the parsed templates; the data they are executed with is
// File (codegen) and Project (scaffold). FS is the raw embedded tree, for tools that
// want to print or diff the templates.
package templates
