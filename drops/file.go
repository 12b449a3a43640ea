package drops

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// FileTimeFormat is the time layout in snapshot file names:
// skbtop-20250314-092653.json.
const FileTimeFormat = "20060102-150405"

// WriteFile saves the snapshot as indented JSON to
// skbtop-YYYYMMDD-HHMMSS.json in dir ("." when empty), named after now, and
// returns the file's path. The file is readable by its owner alone. It
// appears atomically: it is written to a
// temporary file in dir and renamed, so a reader never sees half a document
// and a failed write leaves nothing behind. A second snapshot in the same
// second gets a numbered name rather than replacing the first.
func WriteFile(dir string, s Snapshot, now time.Time) (path string, err error) {
	if dir == "" {
		dir = "."
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode snapshot: %w", err)
	}
	data = append(data, '\n')

	base := "skbtop-" + now.Format(FileTimeFormat)
	f, err := os.CreateTemp(dir, "."+base+"-*.tmp")
	if err != nil {
		return "", fmt.Errorf("write snapshot: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		f.Close()
		return "", fmt.Errorf("write snapshot: %w", err)
	}
	// The file stays private as os.CreateTemp made it (0600, or stricter
	// with the umask): samples hold addresses and ports of real traffic.
	// Synced before the rename, so a crash leaves the whole document or
	// none.
	if err = f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("write snapshot: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("write snapshot: %w", err)
	}
	if path, err = freeName(dir, base); err != nil {
		return "", err
	}
	if err = os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write snapshot: %w", err)
	}
	return path, nil
}

// freeName returns dir/base.json, or dir/base-N.json for the first N not yet
// taken.
func freeName(dir, base string) (string, error) {
	for n := 1; n < 1000; n++ {
		name := base + ".json"
		if n > 1 {
			name = base + "-" + strconv.Itoa(n) + ".json"
		}
		path := filepath.Join(dir, name)
		_, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", fmt.Errorf("write snapshot: %w", err)
		}
	}
	return "", fmt.Errorf("write snapshot: too many snapshots named %s*.json in %s", base, dir)
}
