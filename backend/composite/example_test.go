package composite_test

import (
	"fmt"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/composite"
	"github.com/kavach-go/kavach/backend/oci"
	"github.com/kavach-go/kavach/backend/process"
)

func ExampleNew() {
	b, err := composite.New(oci.New(), backend.Process)
	if err != nil {
		panic(err)
	}
	fmt.Println("outer kind:", b.Kind())

	_, err = composite.New(process.New(), backend.Process)
	fmt.Println(err)
	// Output:
	// outer kind: oci
	// composite process outer, process inner: the process backend already is the Landlock and seccomp stage: there is nothing to nest it in
}
