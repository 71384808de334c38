//go:build !linux

package password

// lowerPriority does nothing where threads have no nice value of their own.
func lowerPriority() {}
