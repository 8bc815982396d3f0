%% kv_store: the Erlang/OTP 25 twin of examples/kv_store.c.
%% A key/value gen_server registered as kv under a one_for_one supervisor;
%% a client puts and gets, crashes it on purpose with a malformed put, and
%% finds it restarted (new pid, empty table) under the same name.
%% Run: erlc kv_store.erl && erl -noshell -eval 'kv_store:main()'
%% Lines (non-blank, non-comment): examples/kv_store.c 116, this file 43 (2.7x).
-module(kv_store).
-behaviour(gen_server).
-export([main/0, init/1, handle_call/3, handle_cast/2]).

%% init/1 serves both the supervisor (sup) and the server (kv).
init(sup) ->
    Kv = #{id => kv, start => {gen_server, start_link, [{local, kv}, ?MODULE, kv, []]}},
    {ok, {#{strategy => one_for_one}, [Kv]}};
init(kv) -> {ok, #{}}.

handle_call({put, K, V}, _From, T) when is_integer(V) -> {reply, ok, T#{K => V}};
handle_call({get, K}, _From, T) ->
    case T of
        #{K := V} -> {reply, {ok, V}, T};
        _ -> {reply, not_found, T}
    end.

handle_cast(_Msg, T) -> {noreply, T}.

kv_put(K, V) ->
    ok = gen_server:call(kv, {put, K, V}),
    io:format("put ~s=~p -> ok~n", [K, V]).

kv_get(K) ->
    R = gen_server:call(kv, {get, K}),
    io:format("get ~s -> ~p~n", [K, R]),
    R.

client(Sup) ->
    kv_put(apples, 3),
    kv_put(pears, 5),
    {ok, 3} = kv_get(apples),
    Before = whereis(kv),
    {'EXIT', {Reason, _}} = (catch gen_server:call(kv, {put, x, "y"})),
    io:format("bad put -> exit: ~p~n", [Reason]),
    Active = proplists:get_value(active, supervisor:count_children(Sup)),
    After = whereis(kv),
    io:format("active: ~p; kv was ~p, is now ~p~n", [Active, Before, After]),
    true = Before =/= After,
    not_found = kv_get(apples),
    kv_put(apples, 7),
    {ok, 7} = kv_get(apples).

main() ->
    {ok, Sup} = supervisor:start_link(?MODULE, sup),
    {_, Ref} = spawn_monitor(fun() -> client(Sup) end),
    receive {'DOWN', Ref, _, _, normal} -> ok end,
    unlink(Sup),
    exit(Sup, shutdown),
    io:format("all checks passed~n"),
    halt().
