package discovery

import "testing"

func TestSubscribeAllowed(t *testing.T) {
	for _, tc := range []struct {
		allow, deny []string
		want        bool
	}{
		{nil, nil, true},
		{[]string{">"}, nil, true},
		{[]string{"$SYS.>"}, nil, true},
		{[]string{"$SYS.ACCOUNT.*.DISCONNECT"}, nil, true},
		{[]string{"$SYS.ACCOUNT.APP.DISCONNECT"}, nil, false}, // narrower than the subscription
		{[]string{"service.>"}, nil, false},
		{nil, []string{"$SYS.>"}, false},
		{nil, []string{"$SYS.ACCOUNT.X.DISCONNECT"}, true}, // overlaps only: delivery filters it
		{[]string{">"}, []string{"$SYS.ACCOUNT.*.*"}, false},
		{[]string{"$SYS.> q"}, nil, false}, // a queue entry
	} {
		if got := subscribeAllowed(tc.allow, tc.deny, disconnectSubject); got != tc.want {
			t.Errorf("allow %q deny %q: %v, want %v", tc.allow, tc.deny, got, tc.want)
		}
	}
}
