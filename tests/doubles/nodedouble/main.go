// nodedouble is a TEST DOUBLE, not Kubernetes: one static binary that stands in for the rootfs programs that cannot
// be had on this machine (kubeadm, kubelet, kubectl, sealctl, and cri-dockerd / image-cri-shim when they cannot be
// built). It picks its role from the name it is run as, records every invocation (argv, cwd, time, pid) as a JSON
// line in /var/log/sealos-provider-doubles.log, and behaves just enough for the rootfs scripts:
//
//	kubeadm init   writes /etc/kubernetes/admin.conf and a real self-signed CA, prints a join command whose
//	               --discovery-token-ca-cert-hash is the sha256 of that CA's public key (as kubeadm computes it)
//	kubeadm join   writes /etc/kubernetes/kubelet.conf; kubeadm reset removes what init/join wrote
//	kubelet, cri-dockerd, image-cri-shim   open their socket (or take systemd's) and stay up until SIGTERM
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const logPath = "/var/log/sealos-provider-doubles.log"

func kubeVersion() string {
	if v := os.Getenv("SEALOS_DOUBLE_KUBE_VERSION"); v != "" {
		return v
	}
	return "v1.28.0"
}

func record(role string) {
	cwd, _ := os.Getwd()
	line, _ := json.Marshal(map[string]any{
		"time": time.Now().UTC().Format(time.RFC3339Nano), "double": role + "-double",
		"argv": os.Args, "cwd": cwd, "pid": os.Getpid(),
	})
	_ = os.MkdirAll(filepath.Dir(logPath), 0o755)
	if f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		_, _ = f.Write(append(line, '\n'))
		_ = f.Close()
	}
}

func main() {
	role := strings.TrimSuffix(filepath.Base(os.Args[0]), "-double")
	if len(os.Args) > 2 && os.Args[1] == "--as" { // nodedouble --as kubeadm ...
		role, os.Args = os.Args[2], append([]string{os.Args[2]}, os.Args[3:]...)
	}
	record(role)
	args := os.Args[1:]
	switch role {
	case "kubeadm":
		os.Exit(kubeadm(args))
	case "kubelet":
		if hasAny(args, "--version", "version") {
			fmt.Printf("Kubernetes %s (kubelet-double)\n", kubeVersion())
			return
		}
		serveTCP("127.0.0.1:10248")
	case "kubectl":
		if len(args) > 0 && args[0] == "version" {
			fmt.Printf("Client Version: %s (kubectl-double)\n", kubeVersion())
		}
	case "cri-dockerd":
		if hasAny(args, "--version", "version") {
			fmt.Println("cri-dockerd-double 0.0.0")
			return
		}
		serveUnix(flagValue(args, "--container-runtime-endpoint", "unix:///var/run/cri-dockerd.sock"))
	case "image-cri-shim":
		if hasAny(args, "--version", "version") {
			fmt.Println("image-cri-shim-double 0.0.0")
			return
		}
		serveUnix(shimSocket(flagValue(args, "--file", "/etc/image-cri-shim.yaml")))
	case "sealctl":
		// Accepts every subcommand and does nothing: the provider renders templates itself.
	default:
		fmt.Fprintf(os.Stderr, "nodedouble: unknown role %q (run as kubeadm, kubelet, kubectl, sealctl, cri-dockerd, image-cri-shim)\n", role)
		os.Exit(2)
	}
}

func hasAny(args []string, names ...string) bool {
	for _, a := range args {
		for _, n := range names {
			if a == n {
				return true
			}
		}
	}
	return false
}

func flagValue(args []string, name, def string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if strings.HasPrefix(a, name+"=") {
			return strings.TrimPrefix(a, name+"=")
		}
	}
	return def
}

// shimSocket reads the `shim:` key of image-cri-shim.yaml (a plain line scan: the double needs no YAML library).
func shimSocket(cfg string) string {
	data, err := os.ReadFile(cfg)
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == "shim" {
				return strings.Trim(strings.TrimSpace(v), `"'`)
			}
		}
	}
	return "/var/run/image-cri-shim.sock"
}

func waitForSignal(cleanup func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
	cleanup()
}

// notifyReady tells systemd the daemon is up when the unit is Type=notify (as cri-docker.service is), the way the
// real daemons do with sd_notify: a READY=1 datagram to $NOTIFY_SOCKET.
func notifyReady() {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "double: cannot notify systemd: %v\n", err)
		return
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("READY=1"))
}

// serveUnix listens on a unix socket (or on systemd's socket fd 3 for fd://) and accepts until SIGTERM.
func serveUnix(endpoint string) {
	var ln net.Listener
	var err error
	path := strings.TrimPrefix(endpoint, "unix://")
	if strings.HasPrefix(endpoint, "fd://") {
		ln, err = net.FileListener(os.NewFile(3, "systemd-socket"))
		path = ""
	} else {
		_ = os.MkdirAll(filepath.Dir(path), 0o755)
		_ = os.Remove(path)
		ln, err = net.Listen("unix", path)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "double: cannot listen on %s: %v\n", endpoint, err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	notifyReady()
	waitForSignal(func() {
		_ = ln.Close()
		if path != "" {
			_ = os.Remove(path)
		}
	})
}

func serveTCP(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-double: cannot listen on %s: %v\n", addr, err)
		os.Exit(1)
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	}()
	waitForSignal(func() { _ = ln.Close() })
}

func kubeadm(args []string) int {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "version":
		if flagValue(args, "-o", "") == "short" || flagValue(args, "--output", "") == "short" {
			fmt.Println(kubeVersion())
		} else {
			fmt.Printf("kubeadm version: &version.Info{GitVersion:%q} (kubeadm-double)\n", kubeVersion())
		}
	case "init":
		if hasAny(args, "phase") {
			return 0
		}
		hash, err := writeCA()
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubeadm-double:", err)
			return 1
		}
		endpoint := initEndpoint(args)
		if err := writeKubeconfig("/etc/kubernetes/admin.conf", endpoint, "kubernetes-admin"); err != nil {
			fmt.Fprintln(os.Stderr, "kubeadm-double:", err)
			return 1
		}
		fmt.Printf("Your Kubernetes control-plane has initialized successfully! (kubeadm-double)\n\n")
		fmt.Printf("kubeadm join %s --token %s \\\n\t--discovery-token-ca-cert-hash sha256:%s\n", endpoint, token(), hash)
	case "token":
		hash, err := caHash()
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubeadm-double: no CA (run kubeadm init first):", err)
			return 1
		}
		fmt.Printf("kubeadm join %s --token %s --discovery-token-ca-cert-hash sha256:%s\n", advertise(), token(), hash)
	case "join":
		server := "127.0.0.1:6443"
		if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
			server = args[1]
		}
		if err := writeKubeconfig("/etc/kubernetes/kubelet.conf", server, "system:node"); err != nil {
			fmt.Fprintln(os.Stderr, "kubeadm-double:", err)
			return 1
		}
		fmt.Println("This node has joined the cluster (kubeadm-double)")
	case "reset":
		for _, p := range []string{"admin.conf", "kubelet.conf", "pki", "manifests"} {
			_ = os.RemoveAll(filepath.Join("/etc/kubernetes", p))
		}
		fmt.Println("[reset] removed /etc/kubernetes state (kubeadm-double)")
	case "config":
		if hasAny(args, "list") {
			for _, img := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"} {
				fmt.Printf("registry.k8s.io/%s:%s\n", img, kubeVersion())
			}
			fmt.Println("registry.k8s.io/pause:3.9")
		}
	}
	return 0
}

// initEndpoint follows kubeadm's precedence: controlPlaneEndpoint, then the advertise address (flag or config file),
// then this host's default-route address.
func initEndpoint(args []string) string {
	cfg := map[string]string{}
	if data, err := os.ReadFile(flagValue(args, "--config", "")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
				if _, seen := cfg[k]; !seen {
					cfg[k] = strings.Trim(strings.TrimSpace(v), `"'`)
				}
			}
		}
	}
	if ep := flagValue(args, "--control-plane-endpoint", cfg["controlPlaneEndpoint"]); ep != "" {
		if !strings.Contains(ep, ":") {
			ep += ":6443"
		}
		return ep
	}
	if ip := flagValue(args, "--apiserver-advertise-address", cfg["advertiseAddress"]); ip != "" {
		return ip + ":6443"
	}
	return advertise()
}

func advertise() string {
	// A UDP "connect" sends nothing; it only asks the kernel which source address the default route would use.
	if c, err := net.Dial("udp", "192.0.2.1:9"); err == nil {
		ip := c.LocalAddr().(*net.UDPAddr).IP.String()
		_ = c.Close()
		return ip + ":6443"
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
				return ipn.IP.String() + ":6443"
			}
		}
	}
	return "127.0.0.1:6443"
}

func token() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 22)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:6]) + "." + string(b[6:])
}

func writeCA() (string, error) {
	if err := os.MkdirAll("/etc/kubernetes/pki", 0o755); err != nil {
		return "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "kubernetes (double)"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	keyDer, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile("/etc/kubernetes/pki/ca.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDer}), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile("/etc/kubernetes/pki/ca.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", err
	}
	return caHash()
}

// caHash is sha256 over the CA certificate's DER SubjectPublicKeyInfo, the value kubeadm prints.
func caHash() (string, error) {
	data, err := os.ReadFile("/etc/kubernetes/pki/ca.crt")
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", fmt.Errorf("ca.crt is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:]), nil
}

func writeKubeconfig(path, server, user string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	body := fmt.Sprintf(`# written by kubeadm-double: not a usable cluster credential
apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://%s
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: %s
  name: %s@kubernetes
current-context: %s@kubernetes
users:
- name: %s
  user: {}
`, server, user, user, user, user)
	return os.WriteFile(path, []byte(body), 0o600)
}
