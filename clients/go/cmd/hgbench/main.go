// Command hgbench measures how fast a Go client receives tokens from a
// hypergraph-grpc server: N concurrent Iter streams of the `tokens` test graph
// (no delay between tokens), once with the server's default chunk merging and
// once with disable_merge (one message per ctx.stream() call). It prints one
// JSON object to stdout (`make bench-go` writes it to
// bench/results/clients-go.json).
//
// Without -target it starts the Python server itself (server_args of
// clients/scenarios.json, from the repository at -root), reports the server's
// CPU time per delivered token and message (read from /proc), and measures
// the baseline in the same run: bench/baseline_server.py, a bare grpc.aio
// servicer sending one pre-built message per token, read the same way.
//
// With -capacity it runs the capacity sweep instead (capacity.go; `make
// bench-capacity` writes bench/results/capacity.json): the most concurrent
// streams at LLM-like token rates that keep p99 latency within 10 and 50 ms,
// against the baseline paced the same way.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/hypergraph"
	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/internal/testserver"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat (100 on Linux).
const clockTicks = 100

type options struct {
	streams, tokens, rounds int
}

// with returns opts with another token count per stream.
func (o options) with(tokens int) options { o.tokens = tokens; return o }

// measurement is one mode's figures (the best of its rounds by tokens/s).
type measurement struct {
	Tokens            int64   `json:"tokens"`
	Messages          int64   `json:"messages"`
	Seconds           float64 `json:"seconds"`
	TokensPerStream   int     `json:"tokens_per_stream"`
	TokensPerS        float64 `json:"tokens_per_s"`
	MessagesPerS      float64 `json:"messages_per_s"`
	TokensPerMessage  float64 `json:"tokens_per_message"`
	ServerCPUUsPerTok float64 `json:"server_cpu_us_per_token,omitempty"`
	ServerCPUUsPerMsg float64 `json:"server_cpu_us_per_message,omitempty"`
}

func main() {
	root := flag.String("root", "", "repository root (default: found from the working directory)")
	target := flag.String("target", "", "use a running server at host:port instead of starting one")
	opts := options{}
	flag.IntVar(&opts.streams, "streams", 16, "concurrent streams")
	flag.IntVar(&opts.tokens, "tokens", 20000, "tokens per stream")
	unmergedTokens := flag.Int("unmerged-tokens", 4000, "tokens per stream with disable_merge (slower: one message per token)")
	flag.IntVar(&opts.rounds, "rounds", 3, "rounds per mode; the best is reported")
	capacity := flag.Bool("capacity", false, "run the capacity sweep instead (capacity.go)")
	capOpts := capacityOptions{}
	flag.StringVar(&capOpts.modes, "modes", "paced-20:20:1,bursty-20:20:4,paced-50:50:1,bursty-50:50:4",
		"capacity modes NAME:TOKENS_PER_S:TOKENS_PER_WAKEUP, comma-separated")
	flag.Float64Var(&capOpts.probeSeconds, "probe-seconds", 3, "capacity: seconds of tokens per stream in a probe")
	flag.Float64Var(&capOpts.rampSeconds, "ramp", 1, "capacity: stream starts are spread over this many seconds")
	flag.Float64Var(&capOpts.resolution, "resolution", 1.25, "capacity: stop when the failing/passing stream counts are this close")
	flag.IntVar(&capOpts.minStreams, "min-streams", 25, "capacity: fewest streams probed")
	flag.IntVar(&capOpts.maxStreams, "max-streams", 6400, "capacity: most streams probed")
	flag.IntVar(&capOpts.connections, "connections", 4, "capacity: connections per server (streams are spread over them)")
	flag.BoolVar(&capOpts.textView, "text-view", true, "capacity: also measure the service's streams with the text view (StreamOptions.view = EVENT_VIEW_TEXT), as "+textName)
	flag.Float64Var(&capOpts.overload, "overload", 2, "capacity: overload probe at this many times the capacity at p99 <= 10 ms (0: none)")
	flag.StringVar(&capOpts.serverArgs, "server-args", "", "capacity: extra `hypergraph-grpc serve` flags, space-separated")
	flag.BoolVar(&capOpts.asyncioLoop, "asyncio", true, "capacity: also measure the service with --loop asyncio (the default, auto, is uvloop when installed)")
	flag.IntVar(&capOpts.fixed, "fixed", 0, "capacity: instead of searching, probe every server at this many streams")
	flag.IntVar(&capOpts.probeRounds, "probe-rounds", 3, "capacity: rounds per probe in the search (the median is kept)")
	flag.BoolVar(&capOpts.fixedOverload, "fixed-overload", false, "capacity: with -fixed, give calls the overload probe's patient deadline instead of the search's")
	flag.IntVar(&capOpts.rounds, "fixed-rounds", 3, "capacity: rounds per server with -fixed (the median is reported)")
	flag.Func("compare", "capacity: NAME=COMMAND, another server to measure (a command that prints `listening on HOST:PORT`; repeatable)",
		func(v string) error {
			if name, command, ok := strings.Cut(v, "="); !ok || name == "" || command == "" {
				return fmt.Errorf("want NAME=COMMAND, got %q", v)
			}
			capOpts.compare = append(capOpts.compare, v)
			return nil
		})
	flag.Parse()
	if *capacity {
		if err := runCapacityFrom(*root, capOpts); err != nil {
			fmt.Fprintf(os.Stderr, "hgbench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*root, *target, opts, *unmergedTokens); err != nil {
		fmt.Fprintf(os.Stderr, "hgbench: %v\n", err)
		os.Exit(1)
	}
}

func runCapacityFrom(root string, opts capacityOptions) error {
	if root == "" {
		var err error
		if root, err = testserver.Root(); err != nil {
			return err
		}
	}
	return runCapacity(root, opts)
}

func run(root, target string, opts options, unmergedTokens int) error {
	out := map[string]any{
		"benchmark": "go client: concurrent Iter streams of the tokens graph",
		"description": "A Go client (grpc-go) reads `streams` concurrent Iter streams of the `tokens` graph (no delay). " +
			"A token is one ctx.stream() call; a merged chunk message holds several. Ratios are against bare grpc.aio " +
			"(bench/baseline_server.py: one pre-built message per token) read by the same client in the same run.",
		"client":     "go",
		"go_version": runtime.Version(),
		"cores":      runtime.NumCPU(),
		"graph":      "tokens",
		"streams":    opts.streams,
		"rounds":     opts.rounds,
	}
	if target != "" { // a running server: no baseline, no CPU figures
		merged, unmerged, err := benchServer(target, 0, opts, unmergedTokens)
		if err != nil {
			return err
		}
		addFigures(out, merged, unmerged, nil)
		return emit(out)
	}
	if root == "" {
		var err error
		if root, err = testserver.Root(); err != nil {
			return err
		}
	}
	args, err := testserver.ServerArgs(root)
	if err != nil {
		return err
	}
	merged, unmerged, err := withServer(root, nil, args, func(addr string, pid int) (measurement, measurement, error) {
		return benchServer(addr, pid, opts, unmergedTokens)
	})
	if err != nil {
		return err
	}
	baselineArgv := []string{filepath.Join(root, ".venv", "bin", "python"), filepath.Join(root, "bench", "baseline_server.py"), "--host", "127.0.0.1", "--port", "0"}
	baseline, _, err := withServer(root, baselineArgv, nil, func(addr string, pid int) (measurement, measurement, error) {
		m, err := benchOne(addr, pid, opts.with(unmergedTokens), nil)
		return m, measurement{}, err
	})
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	addFigures(out, merged, unmerged, &baseline)
	return emit(out)
}

// withServer starts a server (argv, or hypergraph-grpc with args), runs fn
// against it and stops it, so the next server has the CPU to itself.
func withServer(root string, argv, args []string, fn func(addr string, pid int) (measurement, measurement, error)) (measurement, measurement, error) {
	var srv *testserver.Server
	var err error
	if argv != nil {
		srv, err = testserver.StartCommand(root, argv, 60*time.Second)
	} else {
		srv, err = testserver.Start(root, args, 60*time.Second)
	}
	if err != nil {
		return measurement{}, measurement{}, err
	}
	defer srv.Stop()
	return fn(srv.Addr, srv.Pid())
}

// benchServer measures a hypergraph server with merging on, then off.
func benchServer(addr string, pid int, opts options, unmergedTokens int) (merged, unmerged measurement, err error) {
	if merged, err = benchOne(addr, pid, opts, nil); err != nil {
		return
	}
	unmerged, err = benchOne(addr, pid, opts.with(unmergedTokens), []hypergraph.IterOption{hypergraph.WithDisableMerge()})
	return
}

// benchOne warms a fresh connection up, then measures.
func benchOne(addr string, pid int, opts options, iterOpts []hypergraph.IterOption) (measurement, error) {
	client, err := hypergraph.Dial(context.Background(), addr)
	if err != nil {
		return measurement{}, err
	}
	defer client.Close()
	if _, err := measure(client, options{opts.streams, 200, 1}, 0, iterOpts); err != nil {
		return measurement{}, err
	}
	return measure(client, opts, pid, iterOpts)
}

func addFigures(out map[string]any, merged, unmerged measurement, baseline *measurement) {
	out["tokens_per_stream"] = merged.TokensPerStream
	out["tokens_per_s"] = merged.TokensPerS
	out["messages_per_s"] = merged.MessagesPerS
	out["runs"] = map[string]any{"hypergraph": merged, "hypergraph_disable_merge": unmerged}
	out["merge_speedup"] = round3(merged.TokensPerS / unmerged.TokensPerS)
	if baseline == nil {
		return
	}
	out["runs"].(map[string]any)["baseline_grpc_aio"] = *baseline
	out["ratio_tokens_per_s_vs_baseline"] = map[string]float64{
		"hypergraph":               round3(merged.TokensPerS / baseline.TokensPerS),
		"hypergraph_disable_merge": round3(unmerged.TokensPerS / baseline.TokensPerS),
	}
	out["ratio_messages_per_s_vs_baseline"] = map[string]float64{
		"hypergraph":               round3(merged.MessagesPerS / baseline.MessagesPerS),
		"hypergraph_disable_merge": round3(unmerged.MessagesPerS / baseline.MessagesPerS),
	}
}

func emit(out map[string]any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// measure runs opts.rounds rounds of opts.streams concurrent streams and
// keeps the round with the highest token rate.
func measure(client *hypergraph.Client, opts options, pid int, iterOpts []hypergraph.IterOption) (measurement, error) {
	var best measurement
	for range opts.rounds {
		cpu0 := cpuSeconds(pid)
		m, err := round(client, opts, iterOpts)
		if err != nil {
			return best, err
		}
		if pid != 0 {
			cpu := cpuSeconds(pid) - cpu0
			m.ServerCPUUsPerTok = round3(cpu * 1e6 / float64(m.Tokens))
			m.ServerCPUUsPerMsg = round3(cpu * 1e6 / float64(m.Messages))
		}
		if m.TokensPerS > best.TokensPerS {
			best = m
		}
	}
	return best, nil
}

func round(client *hypergraph.Client, opts options, iterOpts []hypergraph.IterOption) (measurement, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	values := map[string]any{"count": opts.tokens, "prefix": "t"}
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		tokens, messages int64
		firstErr         error
	)
	start := time.Now()
	for range opts.streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, msg, err := readStream(ctx, client, values, opts.tokens, iterOpts)
			mu.Lock()
			defer mu.Unlock()
			tokens, messages = tokens+tok, messages+msg
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if firstErr != nil {
		return measurement{}, firstErr
	}
	return measurement{
		Tokens: tokens, Messages: messages, Seconds: round3(secs), TokensPerStream: opts.tokens,
		TokensPerS: round3(float64(tokens) / secs), MessagesPerS: round3(float64(messages) / secs),
		TokensPerMessage: round3(float64(tokens) / float64(messages)),
	}, nil
}

// readStream reads one run to its end; a token is one ctx.stream() call (a
// merged chunk counts all the calls it holds), a message one chunk message.
func readStream(ctx context.Context, client *hypergraph.Client, values map[string]any, want int, iterOpts []hypergraph.IterOption) (tokens, messages int64, err error) {
	stream, err := client.Iter(ctx, "tokens", values, iterOpts...)
	if err != nil {
		return 0, 0, err
	}
	for ev, err := range stream.Events() {
		if err != nil {
			return tokens, messages, err
		}
		if c, ok := ev.(*hypergraph.Chunk); ok {
			tokens += int64(c.Merged)
			messages++
		}
	}
	if res := stream.Result(); res.Status != hypergraph.StatusCompleted || tokens != int64(want) {
		return tokens, messages, fmt.Errorf("stream ended %v after %d of %d tokens", res.Status, tokens, want)
	}
	return tokens, messages, nil
}

// cpuSeconds is the user+system CPU time of process pid (0: not measured).
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / clockTicks
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
