%% counter_server: the Erlang/OTP 25 twin of examples/counter_server.c.
%% A bank account kept by a gen_server registered as bank; three clients
%% at once; a slow audit answered later (noreply + gen_server:reply) that
%% an impatient client gives up on; a bad request stops the server, and
%% the next call gets noproc.
%% Run: erlc counter_server.erl && erl -noshell -eval 'counter_server:main()'
%% Lines (non-blank, non-comment): examples/counter_server.c 135, this file 48 (2.8x).
-module(counter_server).
-behaviour(gen_server).
-export([main/0, init/1, handle_call/3, handle_cast/2, handle_info/2]).

init(Balance) -> {ok, Balance}.

handle_call({deposit, A}, _From, B) when A > 0 -> {reply, {ok, B + A}, B + A};
handle_call({withdraw, A}, _From, B) when A > B -> {reply, {insufficient_funds, B}, B};
handle_call({withdraw, A}, _From, B) when A > 0 -> {reply, {ok, B - A}, B - A};
handle_call(balance, _From, B) -> {reply, {ok, B}, B};
handle_call(audit, From, B) ->
    erlang:send_after(200, self(), {audit_done, From}),
    {noreply, B};
handle_call(_Bad, _From, B) -> {stop, bad_amount, B}.

handle_cast(_Msg, B) -> {noreply, B}.

handle_info({audit_done, From}, B) ->
    gen_server:reply(From, {ok, B}),
    {noreply, B}.

call(Who, Req, Timeout) ->
    R = try gen_server:call(bank, Req, Timeout)
        catch
            exit:{timeout, _} -> timeout;
            exit:{noproc, _} -> noproc;
            exit:{Reason, _} -> {down, Reason}
        end,
    io:format("~s: ~p -> ~p~n", [Who, Req, R]),
    R.

client(Name, Deposit, Withdraw, Want) ->
    {ok, _} = call(Name, {deposit, Deposit}, 1000),
    {Want, _} = call(Name, {withdraw, Withdraw}, 1000).

impatient() ->
    timeout = call(dave, audit, 20),
    receive Late -> exit({late_answer, Late})
    after 300 -> io:format("dave: 300 ms later, mailbox still empty~n")
    end.

main() ->
    {ok, _} = gen_server:start({local, bank}, ?MODULE, 0, []),
    {ok, 100} = call(main, {deposit, 100}, 1000),
    Clients = [{alice, 30, 10, ok}, {bob, 20, 5, ok},
               {carol, 1, 500, insufficient_funds}],
    Refs = [element(2, spawn_monitor(fun() -> client(N, D, W, S) end))
            || {N, D, W, S} <- Clients],
    [receive {'DOWN', R, _, _, normal} -> ok end || R <- Refs],
    {_, Dave} = spawn_monitor(fun impatient/0),
    receive {'DOWN', Dave, _, _, normal} -> ok end,
    {ok, 136} = call(main, balance, 1000),
    {down, bad_amount} = call(main, {withdraw, -5}, 1000),
    noproc = call(main, balance, 1000),
    io:format("all checks passed~n"),
    halt().
