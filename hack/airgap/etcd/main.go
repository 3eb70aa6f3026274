// etcd: the etcd server's command, built from the go.etcd.io/etcd/server/v3
// module (whose own main package lives in a module with replace directives).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
