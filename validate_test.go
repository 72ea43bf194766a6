package dialtone_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dialtone-dev/dialtone"
)

type address struct {
	City string `json:"city" validate:"required"`
}

// createUser names its fields on the wire with json tags; Validate reports those
// names, and the Go name of a field without one (as encoding/json does).
type createUser struct {
	Name    string  `json:"name" validate:"required"`
	Email   string  `json:"email,omitempty" validate:"required,email"`
	Age     int     `json:",omitempty" validate:"gte=0,lte=150"`
	Address address `json:"home"`
	Nick    string  `validate:"max=3"`
}

func TestValidate(t *testing.T) {
	ok := &createUser{Name: "ann", Email: "ann@example.com", Age: 30, Address: address{City: "Oslo"}}
	if err := dialtone.Validate(ok); err != nil {
		t.Fatalf("valid struct: %v", err)
	}
	if err := dialtone.Validate(*ok); err != nil {
		t.Fatalf("valid struct by value: %v", err)
	}
	for _, v := range []any{nil, (*createUser)(nil), "text", 42, []int{1}} {
		if err := dialtone.Validate(v); err != nil {
			t.Errorf("Validate(%#v) = %v, want nil", v, err)
		}
	}
	err := dialtone.Validate(&createUser{Email: "nope", Age: 200, Nick: "toolong"})
	var de *dialtone.Error
	if !errors.As(err, &de) || de.Code() != dialtone.CodeInvalidArgument {
		t.Fatalf("err = %v", err)
	}
	fields, _ := de.Details()["fields"].(map[string]string)
	want := map[string]string{"name": "required", "email": "email", "Age": "lte", "home.city": "required", "Nick": "max"}
	if fmt.Sprint(fields) != fmt.Sprint(want) {
		t.Fatalf("fields = %v, want %v", fields, want)
	}
	if de.Message() != "invalid request: Age (lte), Nick (max), email (email), home.city (required), name (required)" {
		t.Fatalf("message = %q", de.Message())
	}
}

func ExampleValidate() {
	type Greet struct {
		Name string `json:"name" validate:"required"`
	}
	err := dialtone.Validate(&Greet{})
	fmt.Println(err)
	fmt.Println(err.(*dialtone.Error).Details()["fields"])
	// Output:
	// invalid_argument: invalid request: name (required)
	// map[name:required]
}

func TestValidateWithoutRules(t *testing.T) {
	type inner struct{ N int }
	type plain struct {
		A string
		B inner
		C *inner
	}
	if err := dialtone.Validate(&plain{}); err != nil {
		t.Fatal(err)
	}
	type nested struct {
		In  *address // address has a rule on City
		Tag string
	}
	err := dialtone.Validate(&nested{In: &address{}})
	if dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
		t.Fatalf("rule in a nested struct missed: %v", err)
	}
	type self struct {
		Next *self
		V    string `validate:"required"`
	}
	if err := dialtone.Validate(&self{Next: &self{V: "x"}, V: "y"}); err != nil {
		t.Fatalf("recursive type: %v", err)
	}
	if err := dialtone.Validate(&self{}); dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
		t.Fatalf("recursive type without value: %v", err)
	}
}

// Paths follow encoding/json through embedded structs (promoted fields), slices,
// maps and pointers.
func TestValidateJSONPaths(t *testing.T) {
	type audit struct {
		By string `json:"by" validate:"required"`
	}
	type line struct {
		SKU string `json:"sku" validate:"required"`
	}
	type order struct {
		audit
		Lines []line            `json:"lines" validate:"min=1,dive"`
		Ship  *address          `json:"ship,omitempty"`
		Tags  map[string]string `json:"tags" validate:"dive,max=2"`
	}
	err := dialtone.Validate(&order{Lines: []line{{SKU: "a"}, {}}, Ship: &address{}, Tags: map[string]string{"k": "long"}})
	var de *dialtone.Error
	if !errors.As(err, &de) {
		t.Fatalf("err = %v", err)
	}
	fields, _ := de.Details()["fields"].(map[string]string)
	want := map[string]string{"by": "required", "lines[1].sku": "required", "ship.city": "required", "tags[k]": "max"}
	if fmt.Sprint(fields) != fmt.Sprint(want) {
		t.Fatalf("fields = %v, want %v", fields, want)
	}
}
