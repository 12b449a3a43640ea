package netlab_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skbtop/skbtop/internal/kerneltest"
	"github.com/skbtop/skbtop/internal/netlab"
)

// TestFleet checks that every veth end of a fleet receives, and drops as
// unhandled, the frames Run sends, and that Close leaves nothing behind.
func TestFleet(t *testing.T) {
	kerneltest.NeedRoot(t)
	kerneltest.NeedTool(t, "ip")
	f, err := netlab.NewFleet(3)
	if err != nil {
		kerneltest.SkipOrFail(t, "cannot create network namespaces here: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			f.Close()
		}
	})

	// What the ends dropped, by iproute2's reading of their counters:
	// frames nothing handles count as rx_dropped (rx_nohandler on the
	// slaves of a bond). Host ends are in this namespace, eth0 in each
	// member's.
	dropped := func() (total uint64, perEnd []uint64) {
		t.Helper()
		read := func(args ...string) uint64 {
			out, err := exec.Command("ip", append([]string{"-s", "-s", "-j"}, args...)...).Output()
			if err != nil {
				t.Fatalf("ip %s: %v", strings.Join(args, " "), err)
			}
			var links []struct {
				Stats64 struct {
					RX struct {
						Dropped   uint64 `json:"dropped"`
						NoHandler uint64 `json:"nohandler"`
					} `json:"rx"`
				} `json:"stats64"`
			}
			if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
				t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
			return links[0].Stats64.RX.Dropped + links[0].Stats64.RX.NoHandler
		}
		for _, m := range f.Members {
			for _, v := range []uint64{read("link", "show", "dev", m.HostIf), read("-n", m.NS.Name, "link", "show", "dev", "eth0")} {
				total += v
				perEnd = append(perEnd, v)
			}
		}
		return total, perEnd
	}
	before, perBefore := dropped()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	sent, err := f.Run(ctx, 200)
	if err != nil {
		t.Fatal(err)
	}
	after, perAfter := dropped()
	if sent < uint64(f.Interfaces()) {
		t.Fatalf("sent %d frames in 300ms at 200/s, want at least one per interface (%d)", sent, f.Interfaces())
	}
	if after-before != sent {
		t.Errorf("the fleet's ends dropped %d frames, want the %d sent", after-before, sent)
	}
	for i := range perAfter {
		if perAfter[i] == perBefore[i] {
			t.Errorf("veth end %d dropped nothing", i)
		}
	}

	closed = true
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), f.Prefix()) {
		t.Errorf("ip netns list still shows the fleet's namespaces:\n%s", out)
	}
	for _, m := range f.Members {
		if _, err := os.Stat("/sys/class/net/" + m.HostIf); err == nil {
			t.Errorf("host end %s still there after Close", m.HostIf)
		}
	}
}
