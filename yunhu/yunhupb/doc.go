// Package yunhupb holds the Go types generated from yunhu.proto, our own
// description of the Yunhu client protocol's protobuf messages. It is shared
// by the client (package yunhu) and the simulator (package yunhu/sim); neither
// shares codec or HTTP logic with the other.
//
// The generated code is checked in. After editing yunhu.proto, regenerate with
//
//	go generate ./yunhu/yunhupb
//
// which needs protoc and protoc-gen-go (the version pinned in go.mod:
// go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12).
package yunhupb

//go:generate protoc --go_out=. --go_opt=paths=source_relative yunhu.proto
