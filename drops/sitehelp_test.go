package drops

import (
	"strings"
	"testing"
)

func TestSiteHelp(t *testing.T) {
	tests := []struct {
		function string
		want     string // a word the help must contain; "" for no help
	}{
		{"ip_rcv_finish_core", "multicast"},
		{"__netif_receive_skb_core.constprop.0", "rx_dropped"},
		{"__neigh_event_send", "unres_qlen_bytes"},
		{"some_unknown_function", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got := SiteHelp(tt.function)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("SiteHelp(%q) = %q, want it to mention %q", tt.function, got, tt.want)
		}
	}
}
