package main

// The capacity sweep (-capacity): how many concurrent streams at an LLM-like
// token rate one server process holds with smooth delivery, against bare
// grpc.aio (bench/baseline_server.py) paced the same way, in one run.
//
// A probe opens N Iter streams of the `tokens` graph (starts spread evenly
// over -ramp seconds, so token phases are spread as with real traffic), each
// streaming rate x -probe-seconds tokens, `burst` per wake-up, on a fixed
// schedule (a late wake-up catches up, as a model upstream keeps its own pace,
// so a saturated server cannot lower the offered load by slowing the nodes).
// Two latencies per token: receipt time minus Event.time (when the node called
// ctx.stream(); a merged message carries the time of its first token), and
// receipt time minus the token's scheduled time (the first token's Event.time
// plus its wake-up index times the period), which also counts how late the
// loop woke the node. Per stream, the time from its planned start to its
// first token is reported (p50/p99_first_token_ms) but not judged: a server
// slow to accept calls shows there and in the probe's wall time. A probe passes a limit when every stream delivered every
// token in order, the p99 of both is within the limit and the probe took at
// most 1.25 times its planned time (late starts count against it). Capacity
// at a limit is the largest N
// that passed, found coarse to fine: N doubles until a probe fails, then the
// gap is halved (geometrically) until it is within -resolution. Each probe is
// run -probe-rounds times and judged by its median round. Both servers
// run for the whole sweep (the idle one costs nothing); each mode searches
// this server, then the baseline, then runs both at the overload count. A
// search probe's calls have a deadline of 1.5 times its planned time plus 2 s;
// the overload probe's calls wait as a patient client would (overloadCutoff),
// since it asks whether every token still arrives, in order and on time once
// its stream runs, and reports how many streams ended past the search's cutoff.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/hypergraph"
	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/internal/testserver"
)

// capacityOptions are the sweep's knobs (flags).
type capacityOptions struct {
	probeSeconds, rampSeconds, resolution float64
	minStreams, maxStreams, connections   int
	modes                                 string
	serverArgs                            string
	overload                              float64
	compare                               []string // NAME=COMMAND: more servers to measure
	asyncioLoop                           bool     // also the service with --loop asyncio
	textView                              bool     // also the service's streams with the text view
	fixed, rounds                         int      // -fixed: every server at this many streams, no search
	fixedOverload                         bool     // -fixed probes wait as the overload probe does
	probeRounds                           int      // search: rounds per probe (the median is kept)
}

// capacityMode is a per-stream token rate and how many tokens each wake-up emits.
type capacityMode struct {
	Name       string  `json:"name"`
	TokensPerS float64 `json:"tokens_per_s"`
	Burst      int     `json:"tokens_per_wakeup"`
}

// probe is one run of N concurrent streams.
type probe struct {
	Streams          int            `json:"streams"`
	P50Ms            float64        `json:"p50_ms"`
	P99Ms            float64        `json:"p99_ms"`
	MaxMs            float64        `json:"max_ms"`
	LateP50Ms        float64        `json:"p50_behind_schedule_ms"`
	LateP99Ms        float64        `json:"p99_behind_schedule_ms"`
	LateMaxMs        float64        `json:"max_behind_schedule_ms"`
	RoundScoresMs    []float64      `json:"round_scores_ms,omitempty"` // search: each round's score (-1: failed outright)
	FirstTokenP50Ms  float64        `json:"p50_first_token_ms"`        // call start (as planned) -> first token received
	FirstTokenP99Ms  float64        `json:"p99_first_token_ms"`
	PastCutoff       int            `json:"streams_past_search_cutoff"` // streams that ended after the search's cutoff (or never)
	TokensExpected   int64          `json:"tokens_expected"`
	TokensDelivered  int64          `json:"tokens_delivered"`
	Messages         int64          `json:"messages"`
	TokensPerMessage float64        `json:"tokens_per_message"`
	FailedStreams    int            `json:"failed_streams"`
	OutOfOrder       int            `json:"out_of_order_streams"`
	Codes            map[string]int `json:"failure_codes,omitempty"`
	FirstError       string         `json:"first_error,omitempty"`
	WallS            float64        `json:"wall_s"`
	IdealS           float64        `json:"ideal_s"`
	ServerCPUCores   float64        `json:"server_cpu_cores,omitempty"`
	ServerCPUUsPerTk float64        `json:"server_cpu_us_per_token,omitempty"`
	LoadAvg1         float64        `json:"load_avg_1m"`
}

// delivered: every stream ended COMPLETED with every token, in order.
func (p probe) delivered() bool {
	return p.FailedStreams == 0 && p.OutOfOrder == 0 && p.TokensDelivered == p.TokensExpected
}

// maxStretch is how much longer than planned a passing probe may take: streams that
// start late (calls wait for the loop to accept them) are not streams it holds.
const maxStretch = 1.25

// score is the latency a probe is judged by: the larger p99, or +Inf when it lost
// or reordered tokens or overran its time (it passes no limit).
func (p probe) score() float64 {
	if !p.delivered() || p.WallS > maxStretch*p.IdealS {
		return math.Inf(1)
	}
	return max(p.P99Ms, p.LateP99Ms)
}

func (p probe) passes(limitMs float64) bool { return p.score() <= limitMs }

// latencyLimitsMs are the p99 limits capacity is measured at, the looser first.
var latencyLimitsMs = []float64{50, 10}

// target is one server under test: its connections and its probes so far, per mode.
type target struct {
	name, addr string
	pid        int
	view       hv1.EventView // the streams' StreamOptions.view
	clients    []*hypergraph.Client
	probes     map[string]map[int]probe
}

const (
	projectName  = "hypergraph"
	asyncioName  = "hypergraph_asyncio"
	textName     = "hypergraph_text"
	baselineName = "baseline_grpc_aio"
)

func runCapacity(root string, opts capacityOptions) error {
	modes, err := parseModes(opts.modes)
	if err != nil {
		return err
	}
	if opts.probeRounds < 1 || opts.rounds < 1 {
		return fmt.Errorf("-probe-rounds and -fixed-rounds must be at least 1, got %d and %d", opts.probeRounds, opts.rounds)
	}
	args, err := testserver.ServerArgs(root)
	if err != nil {
		return err
	}
	if opts.serverArgs != "" {
		args = append(args, strings.Fields(opts.serverArgs)...)
	}
	project, err := testserver.Start(root, args, 60*time.Second)
	if err != nil {
		return err
	}
	defer project.Stop()
	baselineArgv := []string{filepath.Join(root, ".venv", "bin", "python"), filepath.Join(root, "bench", "baseline_server.py"), "--host", "127.0.0.1", "--port", "0"}
	baseline, err := testserver.StartCommand(root, baselineArgv, 60*time.Second)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	defer baseline.Stop()
	servers := []*target{
		{name: projectName, pid: project.Pid(), addr: project.Addr},
		{name: baselineName, pid: baseline.Pid(), addr: baseline.Addr},
	}
	if opts.textView { // the same process, its streams asking for the text view
		servers = append(servers, &target{name: textName, pid: project.Pid(), addr: project.Addr, view: hv1.EventView_EVENT_VIEW_TEXT})
	}
	if opts.asyncioLoop { // the default loop is uvloop (--loop auto); this is asyncio's own
		withAsyncio := append(append([]string{}, args...), "--loop", "asyncio")
		srv, err := testserver.Start(root, withAsyncio, 60*time.Second)
		if err != nil {
			return fmt.Errorf("--loop asyncio: %w", err)
		}
		defer srv.Stop()
		servers = append(servers, &target{name: asyncioName, pid: srv.Pid(), addr: srv.Addr})
	}
	for _, extra := range opts.compare {
		name, command, _ := strings.Cut(extra, "=")
		srv, err := testserver.StartCommand(root, strings.Fields(command), 60*time.Second)
		if err != nil {
			return fmt.Errorf("-compare %s: %w", name, err)
		}
		defer srv.Stop()
		servers = append(servers, &target{name: name, pid: srv.Pid(), addr: srv.Addr})
	}
	for _, srv := range servers {
		for range opts.connections {
			c, err := hypergraph.Dial(context.Background(), srv.addr)
			if err != nil {
				return err
			}
			defer c.Close()
			srv.clients = append(srv.clients, c)
		}
		srv.probes = map[string]map[int]probe{}
	}

	started := time.Now()
	out := map[string]any{
		"benchmark": "capacity: concurrent Iter streams at LLM-like token rates",
		"description": "A Go client opens N Iter streams of the `tokens` graph, each at a fixed token rate on a fixed " +
			"schedule (paced: one token per wake-up; bursty: several per wake-up, as a provider's network read delivers " +
			"several events at once), against this server and against bare grpc.aio (bench/baseline_server.py) " +
			"paced the same way, in one run. Per token: receipt time - Event.time (p99_ms) and receipt time - the " +
			"token's scheduled time (p99_behind_schedule_ms); per stream, planned start -> first token (p99_first_token_ms, reported, not judged). Capacity = the most streams with every token delivered " +
			"in order, both p99s within the limit and the probe at most 1.25x its planned time (coarse-to-fine search).",
		"client":            "go",
		"go_version":        runtime.Version(),
		"cores":             runtime.NumCPU(),
		"probe_seconds":     opts.probeSeconds,
		"ramp_seconds":      opts.rampSeconds,
		"resolution":        opts.resolution,
		"connections":       opts.connections,
		"server_args":       args,
		"compare":           opts.compare,
		"overload_factor":   opts.overload,
		"load_avg_1m_start": loadAvg(),
	}
	if opts.fixed > 0 {
		out["fixed_streams"] = opts.fixed
		out["modes"] = runFixed(servers, modes, opts)
		out["sweep_seconds"] = round3(time.Since(started).Seconds())
		out["load_avg_1m_end"] = loadAvg()
		return emit(out)
	}
	limits := latencyLimitsMs
	var results []map[string]any
	guess := map[string]int{}
	var previous *capacityMode
	for _, mode := range modes {
		row := map[string]any{"mode": mode}
		caps := map[string]map[string]int{}
		for _, srv := range servers {
			srv.probes[mode.Name] = map[int]probe{}
			start := 500
			if g, ok := guess[srv.name]; ok && previous != nil {
				start = roundStreams(float64(g) * previous.TokensPerS / mode.TokensPerS)
			}
			caps[srv.name] = map[string]int{}
			for _, limit := range limits {
				n := search(opts, start, limit, srv.probes[mode.Name], func(n int) probe {
					return medianProbe(srv, mode, n, opts)
				})
				caps[srv.name][limitKey(limit)] = n
			}
			guess[srv.name] = max(caps[srv.name][limitKey(50)], opts.minStreams)
		}
		for _, srv := range servers {
			figures := map[string]any{
				"streams_p99_10ms": caps[srv.name][limitKey(10)],
				"streams_p99_50ms": caps[srv.name][limitKey(50)],
				"probes":           sortedProbes(srv.probes[mode.Name]),
			}
			if srv.name != baselineName {
				ratios := map[string]float64{}
				for _, limit := range limits {
					key := limitKey(limit)
					if b := caps[baselineName][key]; b > 0 {
						ratios[key] = round3(float64(caps[srv.name][key]) / float64(b))
					}
				}
				figures["ratio_streams_vs_baseline"] = ratios
			}
			row[srv.name] = figures
		}
		if n := int(opts.overload * float64(caps[projectName][limitKey(10)])); n > 0 {
			over := map[string]any{"streams": n}
			for _, srv := range servers {
				p := runProbe(srv, mode, n, opts, overloadCutoff)
				logProbe(srv.name+" overload", mode, p)
				over[srv.name] = map[string]any{
					"p99_ms": p.P99Ms, "p99_behind_schedule_ms": p.LateP99Ms, "every_token_in_order": p.delivered(),
					"wall_over_ideal": round3(p.WallS / p.IdealS), "p99_first_token_ms": p.FirstTokenP99Ms,
					"streams_past_search_cutoff": p.PastCutoff, "probe": p,
				}
			}
			row["overload"] = over
		}
		results = append(results, row)
		m := mode
		previous = &m
	}
	out["modes"] = results
	out["sweep_seconds"] = round3(time.Since(started).Seconds())
	out["load_avg_1m_end"] = loadAvg()
	printCapacityTable(results, servers)
	return emit(out)
}

// search returns the most streams that pass limitMs, probing as needed (probes
// already in cache are reused).
func search(opts capacityOptions, start int, limitMs float64, cache map[int]probe, run func(int) probe) int {
	for {
		lo, hi := 0, 0 // the largest passing N below hi; the smallest failing N
		for n, p := range cache {
			if !p.passes(limitMs) && (hi == 0 || n < hi) {
				hi = n
			}
		}
		for n, p := range cache {
			if p.passes(limitMs) && n > lo && (hi == 0 || n < hi) {
				lo = n
			}
		}
		var next int
		switch {
		case lo == 0 && hi == 0:
			next = start
		case hi == 0:
			if lo >= opts.maxStreams {
				return lo
			}
			next = min(lo*2, opts.maxStreams)
		case lo == 0:
			if hi <= opts.minStreams {
				return 0
			}
			next = max(hi/2, opts.minStreams)
		default:
			if float64(hi)/float64(lo) <= opts.resolution {
				return lo
			}
			next = roundStreams(math.Sqrt(float64(lo) * float64(hi)))
		}
		next = max(opts.minStreams, min(next, opts.maxStreams))
		if _, done := cache[next]; done {
			return lo
		}
		cache[next] = run(next)
	}
}

// medianProbe runs opts.probeRounds probes of n streams and keeps the median by
// score. One probe's verdict is noisy (a stall of the load generator or of another
// process fails it, a quiet moment passes it), and the search trusts each verdict:
// a single outlier used to end it several steps early or late.
func medianProbe(srv *target, mode capacityMode, n int, opts capacityOptions) probe {
	rounds := make([]probe, 0, opts.probeRounds)
	for range opts.probeRounds {
		p := runProbe(srv, mode, n, opts, searchCutoff)
		logProbe(srv.name, mode, p)
		rounds = append(rounds, p)
	}
	slices.SortFunc(rounds, func(a, b probe) int { return cmpFloat(a.score(), b.score()) })
	med := rounds[len(rounds)/2]
	for _, p := range rounds {
		med.RoundScoresMs = append(med.RoundScoresMs, finite(p.score()))
	}
	return med
}

// roundStreams rounds to a readable count (a multiple of 25 from 100 up).
func roundStreams(f float64) int {
	if f < 100 {
		return max(1, int(math.Round(f/5))*5)
	}
	return int(math.Round(f/25)) * 25
}

// searchCutoff is the client deadline of a search probe: a probe that falls far
// behind has failed, and waiting for it costs the sweep.
func searchCutoff(ideal time.Duration) time.Duration { return ideal*3/2 + 2*time.Second }

// overloadCutoff is the client deadline of the overload probe, a client that waits
// its turn: the probe asks whether every token arrives, in order and smoothly once
// streaming, however long the calls waited to be accepted (the time to first token
// and streams_past_search_cutoff show that wait).
func overloadCutoff(ideal time.Duration) time.Duration { return 3*ideal + 30*time.Second }

// runProbe runs n streams of mode against srv and measures them; each call's
// deadline is cutoff(the probe's planned time).
func runProbe(srv *target, mode capacityMode, n int, opts capacityOptions, cutoff func(time.Duration) time.Duration) probe {
	burst := max(1, mode.Burst)
	wakeups := max(1, int(math.Round(mode.TokensPerS*opts.probeSeconds/float64(burst))))
	count := wakeups * burst
	delay := time.Duration(float64(burst) / mode.TokensPerS * float64(time.Second))
	values, _ := structpb.NewStruct(map[string]any{
		"count": count, "delay_ms": float64(delay) / float64(time.Millisecond), "burst": burst, "prefix": "t",
	})
	ramp := time.Duration(opts.rampSeconds * float64(time.Second))
	ideal := ramp + time.Duration(wakeups)*delay
	ctx, cancel := context.WithTimeout(context.Background(), cutoff(ideal))
	defer cancel()
	searchDeadline := searchCutoff(ideal)

	type streamResult struct {
		latencies, late  []float32
		firstToken       float32 // ms from the planned start to the first token's receipt
		tokens, messages int64
		failed, misorder bool
		pastCutoff       bool
		err              error
	}
	results := make([]streamResult, n)
	load := loadAvg()
	cpu0 := cpuSeconds(srv.pid)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			planned := start.Add(ramp * time.Duration(i) / time.Duration(n))
			time.Sleep(time.Until(planned))
			r := &results[i]
			r.latencies, r.late = make([]float32, 0, count), make([]float32, 0, count)
			sched := schedule{burst: burst, period: delay}
			var first time.Time
			r.tokens, r.messages, r.misorder, first, r.err = readPaced(ctx, srv.clients[i%len(srv.clients)], values, srv.view, sched, &r.latencies, &r.late)
			r.firstToken = float32(math.Inf(1)) // no token: worse than any
			if !first.IsZero() {
				r.firstToken = float32(first.Sub(planned).Seconds() * 1000)
			}
			r.failed = r.err != nil || r.tokens != int64(count)
			r.pastCutoff = r.failed || time.Since(start) > searchDeadline
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	var serverCPU float64
	p := probe{Streams: n, TokensExpected: int64(n) * int64(count), WallS: round3(wall.Seconds()), IdealS: round3(ideal.Seconds()), LoadAvg1: load}
	if srv.pid != 0 {
		serverCPU = cpuSeconds(srv.pid) - cpu0
		p.ServerCPUCores = round3(serverCPU / wall.Seconds())
	}
	var all, late, firsts []float32
	for _, r := range results {
		all = append(all, r.latencies...)
		firsts = append(firsts, r.firstToken)
		late = append(late, r.late...)
		p.TokensDelivered += r.tokens
		p.Messages += r.messages
		if r.misorder {
			p.OutOfOrder++
		}
		if r.pastCutoff {
			p.PastCutoff++
		}
		if r.failed {
			p.FailedStreams++
			code := "incomplete"
			if r.err != nil {
				code = "error"
				if s, ok := status.FromError(r.err); ok {
					code = s.Code().String()
				}
				if p.FirstError == "" {
					p.FirstError = truncate(r.err.Error(), 300)
				}
			}
			if p.Codes == nil {
				p.Codes = map[string]int{}
			}
			p.Codes[code]++
		}
	}
	if p.TokensDelivered > 0 && serverCPU > 0 {
		p.ServerCPUUsPerTk = round3(serverCPU * 1e6 / float64(p.TokensDelivered))
	}
	if p.Messages > 0 {
		p.TokensPerMessage = round3(float64(p.TokensDelivered) / float64(p.Messages))
	}
	slices.Sort(all)
	p.P50Ms, p.P99Ms, p.MaxMs = quantile(all, 0.50), quantile(all, 0.99), quantile(all, 1)
	slices.Sort(late)
	p.LateP50Ms, p.LateP99Ms, p.LateMaxMs = quantile(late, 0.50), quantile(late, 0.99), quantile(late, 1)
	slices.Sort(firsts)
	p.FirstTokenP50Ms, p.FirstTokenP99Ms = finite(quantile(firsts, 0.50)), finite(quantile(firsts, 0.99))
	time.Sleep(300 * time.Millisecond) // let the server finish its runs' bookkeeping
	return p
}

// schedule is when a stream's tokens are due: `burst` of them every `period`,
// from the first token's Event.time.
type schedule struct {
	burst  int
	period time.Duration
}

// readPaced reads one stream to its end: every token "t<i> " must come once, in
// order; per token it records the receipt time minus its message's Event.time
// and minus the token's scheduled time. firstToken is when the first token came.
func readPaced(ctx context.Context, client *hypergraph.Client, values *structpb.Struct, view hv1.EventView, sched schedule, latencies, late *[]float32) (tokens, messages int64, misorder bool, firstToken time.Time, err error) {
	options := &hv1.StreamOptions{View: view}
	call, err := client.Stub().Iter(ctx, &hv1.IterRequest{Graph: "tokens", Values: values, Options: options})
	if err != nil {
		return 0, 0, false, firstToken, err
	}
	completed := false
	var origin time.Time
	for {
		ev, err := call.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return tokens, messages, misorder, firstToken, err
		}
		switch k := ev.Kind.(type) {
		case *hv1.Event_StreamingChunk:
			now := time.Now()
			sent := ev.GetTime().AsTime()
			if origin.IsZero() {
				origin, firstToken = sent, now
			}
			ms := float32(now.Sub(sent).Seconds() * 1000)
			messages++
			for _, tok := range strings.Fields(k.StreamingChunk.GetText()) {
				if tok != "t"+strconv.FormatInt(tokens, 10) {
					misorder = true
				}
				due := origin.Add(sched.period * time.Duration(tokens/int64(sched.burst)))
				*latencies = append(*latencies, ms)
				*late = append(*late, float32(now.Sub(due).Seconds()*1000))
				tokens++
			}
		case *hv1.Event_RunEnded:
			completed = k.RunEnded.GetResult().GetStatus() == hv1.RunStatus_RUN_STATUS_COMPLETED
		}
	}
	if !completed {
		return tokens, messages, misorder, firstToken, errors.New("stream ended without RunEnded(COMPLETED)")
	}
	return tokens, messages, misorder, firstToken, nil
}

// finite is v, or -1 for an infinite one (no token, a failed round): JSON has no infinity.
func finite(v float64) float64 {
	if math.IsInf(v, 0) {
		return -1
	}
	return v
}

func quantile(sorted []float32, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, int(math.Ceil(q*float64(len(sorted))))-1)
	v := float64(sorted[max(i, 0)])
	if math.IsInf(v, 0) {
		return v // round3 would overflow
	}
	return round3(v)
}

func parseModes(spec string) ([]capacityMode, error) {
	var modes []capacityMode
	for _, item := range strings.Split(spec, ",") {
		// NAME:RATE:BURST, e.g. paced-20:20:1 or bursty-20:20:4
		parts := strings.Split(strings.TrimSpace(item), ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("-modes %q: want NAME:TOKENS_PER_S:TOKENS_PER_WAKEUP,...", item)
		}
		rate, err1 := strconv.ParseFloat(parts[1], 64)
		burst, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || rate <= 0 || burst < 1 {
			return nil, fmt.Errorf("-modes %q: rate must be > 0 and burst >= 1", item)
		}
		modes = append(modes, capacityMode{parts[0], rate, burst})
	}
	return modes, nil
}

func sortedProbes(m map[int]probe) []probe {
	ps := make([]probe, 0, len(m))
	for _, p := range m {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b probe) int { return a.Streams - b.Streams })
	return ps
}

func limitKey(ms float64) string { return fmt.Sprintf("p99_%gms", ms) }

func logProbe(server string, mode capacityMode, p probe) {
	fmt.Fprintf(os.Stderr, "%-28s %-10s N=%-5d p99 %7.1f ms (behind schedule %7.1f)  p50 %5.1f  first token p50/p99 %6.1f/%6.1f ms  delivered %-5v  tok/msg %.2f  wall %.1f/%.1f s  cpu %.2f  load %.2f\n",
		server, mode.Name, p.Streams, p.P99Ms, p.LateP99Ms, p.P50Ms, p.FirstTokenP50Ms, p.FirstTokenP99Ms, p.delivered(), p.TokensPerMessage, p.WallS, p.IdealS, p.ServerCPUCores, p.LoadAvg1)
}

func printCapacityTable(rows []map[string]any, servers []*target) {
	fmt.Fprintln(os.Stderr, "\nmode        server                     streams@p99<=10ms (vs bare)   streams@p99<=50ms (vs bare)   2x overload: p99 ms (behind schedule), every token in order")
	for _, row := range rows {
		mode := row["mode"].(capacityMode)
		for _, srv := range servers {
			f := row[srv.name].(map[string]any)
			r, _ := f["ratio_streams_vs_baseline"].(map[string]float64)
			over := "-"
			if o, ok := row["overload"].(map[string]any); ok {
				so := o[srv.name].(map[string]any)
				over = fmt.Sprintf("N=%d: %.1f (%.1f), %v; first token p99 %.0f ms, %d past the search cutoff", o["streams"], so["p99_ms"],
					so["p99_behind_schedule_ms"], so["every_token_in_order"], so["p99_first_token_ms"], so["streams_past_search_cutoff"])
			}
			fmt.Fprintf(os.Stderr, "%-11s %-26s %5d (%.2fx)                 %5d (%.2fx)                 %s\n", mode.Name, srv.name,
				f["streams_p99_10ms"], r[limitKey(10)], f["streams_p99_50ms"], r[limitKey(50)], over)
		}
	}
}

func loadAvg() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(raw))[0], 64)
	return f
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// runFixed probes every server at opts.fixed streams per mode, opts.rounds times,
// the servers interleaved (so a burst of load from elsewhere hits them alike), and
// reports the median round per server: server CPU per token is the figure that
// load from other processes disturbs least.
func runFixed(servers []*target, modes []capacityMode, opts capacityOptions) []map[string]any {
	var rows []map[string]any
	fmt.Fprintf(os.Stderr, "\n%d streams per probe, median of %d rounds\n", opts.fixed, opts.rounds)
	for _, mode := range modes {
		row := map[string]any{"mode": mode}
		rounds := map[string][]probe{}
		for r := range opts.rounds {
			for i := range servers {
				srv := servers[(i+r)%len(servers)]
				cutoff := searchCutoff
				if opts.fixedOverload {
					cutoff = overloadCutoff
				}
				p := runProbe(srv, mode, opts.fixed, opts, cutoff)
				logProbe(srv.name, mode, p)
				rounds[srv.name] = append(rounds[srv.name], p)
			}
		}
		for _, srv := range servers {
			ps := rounds[srv.name]
			slices.SortFunc(ps, func(a, b probe) int { return cmpFloat(a.ServerCPUUsPerTk, b.ServerCPUUsPerTk) })
			med := ps[len(ps)/2]
			scores := make([]float64, len(ps))
			for i, p := range ps {
				scores[i] = p.score()
			}
			slices.Sort(scores)
			passing := map[string]int{}
			for _, limit := range latencyLimitsMs {
				for _, p := range ps {
					if p.passes(limit) {
						passing[limitKey(limit)]++
					}
				}
			}
			medianScore := scores[len(scores)/2]
			row[srv.name] = map[string]any{
				"median": med, "rounds": ps,
				"median_score_ms": finite(medianScore), "rounds_passing": passing,
			}
			fmt.Fprintf(os.Stderr, "%-11s %-26s cpu %6.1f us/token  p99 %6.1f ms (behind schedule %6.1f)  tok/msg %.2f  delivered %v\n",
				mode.Name, srv.name, med.ServerCPUUsPerTk, med.P99Ms, med.LateP99Ms, med.TokensPerMessage, med.delivered())
			within := make([]string, len(latencyLimitsMs))
			for i, limit := range latencyLimitsMs {
				within[i] = fmt.Sprintf("within %g ms %d/%d", limit, passing[limitKey(limit)], len(ps))
			}
			fmt.Fprintf(os.Stderr, "%-11s %-26s score median %6.1f ms  rounds %s\n",
				mode.Name, srv.name, medianScore, strings.Join(within, ", "))
		}
		rows = append(rows, row)
	}
	return rows
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
