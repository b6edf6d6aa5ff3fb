package history

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestEDNToJSON(t *testing.T) {
	tests := []struct {
		edn, json string
	}{
		{`nil`, `null`},
		{`true`, `true`},
		{`false`, `false`},
		{`42`, `42`},
		{`-7`, `-7`},
		{`+3`, `3`},
		{`12345678901234567890123`, `12345678901234567890123`},
		{`-12345678901234567890123N`, `-12345678901234567890123`},
		{`7N`, `7`},
		{`1.5`, `1.5`},
		{`1e3`, `1000`},
		{`2.50M`, `2.5`},
		{`1/4`, `0.25`},
		{`##Inf`, `"Infinity"`},
		{`0x1F`, `31`},
		{`"a \"q\" \\ \n \u00e9"`, `"a \"q\" \\ \n é"`},
		{`:read`, `"read"`},
		{`:jepsen.history/op`, `"jepsen.history/op"`},
		{`foo`, `"foo"`},
		{`\a`, `"a"`},
		{`\newline`, `"\n"`},
		{`\u0041`, `"A"`},
		{`[1 2, 3]`, `[1,2,3]`},
		{`(1 (2) [])`, `[1,[2],[]]`},
		{`#{:a}`, `["a"]`},
		{`{:f :cas, :value [1 4]}`, `{"f":"cas","value":[1,4]}`},
		{`{"k" 1 2 3 [1] 4}`, `{"k":1,"2":3,"[1]":4}`},
		{`[[:read :x nil] [:write :y 2]]`, `[["read","x",null],["write","y",2]]`},
		{`#inst "2020-01-01T00:00:00Z"`, `"2020-01-01T00:00:00Z"`},
		{`#uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"`, `"f81d4fae-7dec-11d0-a765-00a0c91e6bf6"`},
		{`#jepsen.history.Op{:index 0, :type :invoke}`, `{"index":0,"type":"invoke"}`},
		{`[1 #_2 3 #_ #_ 4 5]`, `[1,3]`},
		{`^{:meta true} [1]`, `[1]`},
		{"; comment\n[1 ; more\n 2]", `[1,2]`},
		{`#"re[a-z]"`, `"re[a-z]"`},
		{"\"bad \xff utf8\"", `"bad \ufffd utf8"`},
	}
	for _, tt := range tests {
		v, err := newEDNReader([]byte(tt.edn)).next()
		if err != nil {
			t.Errorf("read %q: %v", tt.edn, err)
			continue
		}
		got := ednJSON(v)
		if !json.Valid(got) {
			t.Errorf("read %q: invalid JSON %s", tt.edn, got)
		}
		if string(got) != tt.json {
			t.Errorf("read %q: got %s, want %s", tt.edn, got, tt.json)
		}
	}
}

func TestEDNMalformed(t *testing.T) {
	tests := []struct {
		edn, errHas string
	}{
		{`[1 2`, "unclosed"},
		{`{:a}`, "odd number"},
		{`"abc`, "unterminated string"},
		{`]`, "unexpected"},
		{"[1\n2\n)", "line 3"},
		{`#`, "end of input"},
		{`##Foo`, "unknown symbolic"},
		{`1.2.3`, "invalid number"},
		{`\`, "end of input"},
		{`\bogus`, "unknown character"},
		{`:`, "empty keyword"},
		{`#_`, "end of input"},
		{strings.Repeat("[", ednMaxDepth+10), "nesting deeper"},
		{`"\u12"`, "escape"},
	}
	for _, tt := range tests {
		_, err := newEDNReader([]byte(tt.edn)).next()
		if err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("read %q: error %v, want one containing %q", tt.edn, err, tt.errHas)
		}
	}
}

func TestEDNReadsSeveralForms(t *testing.T) {
	r := newEDNReader([]byte("{:a 1}\n{:a 2} ; end\n"))
	var got []string
	for {
		v, err := r.next()
		if errors.Is(err, errEDNEnd) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(ednJSON(v)))
	}
	if strings.Join(got, " ") != `{"a":1} {"a":2}` {
		t.Errorf("got %v", got)
	}
}
