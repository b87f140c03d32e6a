// TEST INFRASTRUCTURE (test-stack/real-kind/build.sh), never shipped.
//
// kindconst prints the value of one string constant declared in a Go source
// file. kind's node-image builder keeps its default storage manifest and the
// names of its images as constants (pkg/build/nodeimage/const_storage.go);
// build.sh reads them from the kind module at build time with this, so the
// node image gets exactly what kind's own node images get and nothing of
// kind's is copied into this repository.
//
//	kindconst FILE NAME
//
// The file is type-checked alone (kind's constant files import nothing), so
// constant expressions such as "…image: " + storageProvisionerImage + "…"
// come out evaluated, as the Go compiler sees them.
package main

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fail("usage: kindconst FILE NAME")
	}
	file, name := os.Args[1], os.Args[2]
	fset := token.NewFileSet()
	parsed, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		fail("%v", err)
	}
	pkg, err := (&types.Config{}).Check(parsed.Name.Name, fset, []*ast.File{parsed}, nil)
	if err != nil {
		fail("type-checking %s: %v", file, err)
	}
	value, ok := pkg.Scope().Lookup(name).(*types.Const)
	if !ok || value.Val().Kind() != constant.String {
		fail("%s declares no string constant %s", file, name)
	}
	fmt.Print(constant.StringVal(value.Val()))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kindconst: "+format+"\n", args...)
	os.Exit(1)
}
