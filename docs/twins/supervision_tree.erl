%% supervision_tree: the Erlang/OTP 25 twin of examples/supervision_tree.c.
%% service (one_for_one) = cache (gen_server, registered) + parsers
%% (simple_one_for_one of parser gen_servers); bad lines crash a parser,
%% its supervisor starts a fresh one; the cache keeps every good line.
%% Run: erlc supervision_tree.erl && erl -noshell -eval 'supervision_tree:main()'
%% Lines (non-blank, non-comment): examples/supervision_tree.c 183, this file 51 (3.6x).
-module(supervision_tree).
-behaviour(gen_server).
-export([main/0, init/1, handle_call/3, handle_cast/2]).

%% init/1 serves the two supervisors and the two kinds of server.
init(service) ->
    Cache = #{id => cache, shutdown => 1000,
              start => {gen_server, start_link, [{local, cache}, ?MODULE, cache, []]}},
    Parsers = #{id => parsers, type => supervisor, shutdown => infinity,
                start => {supervisor, start_link, [{local, parsers}, ?MODULE, parsers]}},
    {ok, {#{strategy => one_for_one}, [Cache, Parsers]}};
init(parsers) ->
    Parser = #{id => parser, shutdown => 1000,
               start => {gen_server, start_link, [?MODULE, parser, []]}},
    {ok, {#{strategy => simple_one_for_one, intensity => 5, period => 10}, [Parser]}};
init(cache) -> {ok, #{}};
init(parser) -> {ok, none}.

handle_call({put, K, V}, _From, T) -> {reply, ok, T#{K => V}};
handle_call({get, K}, _From, T) -> {reply, maps:get(K, T, "?"), T};
handle_call({parse, Line}, _From, S) ->
    case string:split(Line, "=") of
        [K, V] -> {reply, gen_server:call(cache, {put, K, V}), S};
        [_] -> {stop, bad_input, S}
    end.

handle_cast(_Msg, S) -> {noreply, S}.

list(Sup, Title) ->
    io:format("~s:~n", [Title]),
    [io:format("  ~p ~p~n", [Id, Pid]) || {Id, Pid, _, _} <- supervisor:which_children(Sup)].

parser(N) -> element(2, lists:nth(N, supervisor:which_children(parsers))).

call(To, Req) ->
    try gen_server:call(To, Req) catch exit:{Reason, _} -> {crashed, Reason} end.

main() ->
    {ok, Service} = supervisor:start_link({local, service}, ?MODULE, service),
    [{ok, _} = supervisor:start_child(parsers, []) || _ <- [1, 2]],
    list(service, "service children"),
    list(parsers, "parsers before"),
    Lines = ["lang=C", "bogus", "model=actor", "oops", "lang=Erlang",
             "no equals sign", "motto=let it crash"],
    Crashes = lists:sum([begin
                             R = call(parser(I rem 2 + 1), {parse, L}),
                             io:format("parser #~w <- ~p: ~p~n", [I rem 2 + 1, L, R]),
                             case R of ok -> 0; {crashed, bad_input} -> 1 end
                         end || {I, L} <- lists:zip(lists:seq(0, 6), Lines)]),
    [V = call(cache, {get, K}) || {K, V} <- [{"lang", "Erlang"}, {"model", "actor"},
                                              {"motto", "let it crash"}]],
    3 = Crashes,
    2 = proplists:get_value(active, supervisor:count_children(parsers)),
    list(parsers, "parsers after (new pids)"),
    unlink(Service),
    ok = gen_server:stop(service),
    {undefined, undefined} = {whereis(cache), whereis(parsers)},
    io:format("all checks passed~n"),
    halt().
