//go:build lite

package main

import "testing"

func TestNeedsFull(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"status"}, false},
		{[]string{"--config", "analyze", "status"}, false},
		{[]string{"persons", "list", "--json"}, false},
		{[]string{"models"}, false},
		{[]string{"models", "list"}, false},
		{[]string{"models", "train-heads", "dir"}, true},
		{[]string{"--config", "c.txt", "analyze", "x.jpg"}, true},
		{[]string{"eval", "utkface", "d"}, true},
		{[]string{"export", "--all"}, true},
		{[]string{}, false},
	}
	for _, tt := range tests {
		if got := needsFull(tt.args); got != tt.want {
			t.Errorf("needsFull(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
