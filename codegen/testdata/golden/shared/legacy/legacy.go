// Package legacy declares a type with the name of one of package shared's.
package legacy

// Item is an item of the legacy store.
type Item struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}
