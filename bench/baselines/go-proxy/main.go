// Go's net/http/httputil.ReverseProxy with one header set: the engine under Vault Proxy and
// oauth2-proxy. Env: TARGET (upstream origin), TOKEN, PORT, HOST.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	target, err := url.Parse(os.Getenv("TARGET"))
	if err != nil {
		log.Fatal(err)
	}
	authorization := "token " + os.Getenv("TOKEN")
	proxy := httputil.NewSingleHostReverseProxy(target)
	direct := proxy.Director
	proxy.Director = func(r *http.Request) {
		direct(r)
		r.Header.Set("Authorization", authorization)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Go keeps 2 idle connections per host by default, and DefaultTransport 100 in all: at 256
	// client connections it would reconnect upstream all the time, which no other contender does.
	transport.MaxIdleConnsPerHost = 256
	transport.MaxIdleConns = 256
	proxy.Transport = transport
	host := os.Getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(host, os.Getenv("PORT")))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("{\"port\":%d}\n", listener.Addr().(*net.TCPAddr).Port)
	log.Fatal(http.Serve(listener, proxy))
}
