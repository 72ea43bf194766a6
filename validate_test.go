package dialtone_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dialtone-dev/dialtone"
)

type address struct {
	City string `validate:"required"`
}

type createUser struct {
	Name    string `validate:"required"`
	Email   string `validate:"required,email"`
	Age     int    `validate:"gte=0,lte=150"`
	Address address
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
	err := dialtone.Validate(&createUser{Email: "nope", Age: 200})
	var de *dialtone.Error
	if !errors.As(err, &de) || de.Code() != dialtone.CodeInvalidArgument {
		t.Fatalf("err = %v", err)
	}
	fields, _ := de.Details()["fields"].(map[string]string)
	want := map[string]string{"Name": "required", "Email": "email", "Age": "lte", "Address.City": "required"}
	if fmt.Sprint(fields) != fmt.Sprint(want) {
		t.Fatalf("fields = %v, want %v", fields, want)
	}
	if de.Message() != "invalid request: Address.City (required), Age (lte), Email (email), Name (required)" {
		t.Fatalf("message = %q", de.Message())
	}
}

func ExampleValidate() {
	type Greet struct {
		Name string `validate:"required"`
	}
	err := dialtone.Validate(&Greet{})
	fmt.Println(err)
	fmt.Println(err.(*dialtone.Error).Details()["fields"])
	// Output:
	// invalid_argument: invalid request: Name (required)
	// map[Name:required]
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
