%% selective_receive: the Erlang twin of examples/selective_receive.c.
%% Lines (non-blank, non-comment): C 86 (examples/selective_receive.c), Erlang 36.
%% Run: erlc selective_receive.erl && erl -noshell -s selective_receive main -s init stop
-module(selective_receive).
-export([main/0]).

main() ->
    Jobs = [{3, "backup"}, {1, "logs"}, {7, "alert"},
            {4, "report"}, {9, "outage"}, {2, "cleanup"}],
    Pid = spawn(fun inbox/0),
    register(inbox, Pid),
    [begin io:format("main: job ~s (priority ~p)~n", [Name, Prio]),
           inbox ! {job, Prio, Name} end || {Prio, Name} <- Jobs],
    inbox ! start,
    Ref = monitor(process, Pid),
    receive {'DOWN', Ref, process, Pid, Why} -> io:format("inbox ended: ~p~n", [Why]) end.

inbox() ->
    receive start -> ok end,
    {ok, Tick} = timer:send_interval(20, tick),
    Urgent = urgent([]),
    Rest = rest([]),
    io:format("inbox: no job for 100 ms~n"),
    [receive tick -> io:format("inbox: tick ~p~n", [T]) after 1000 -> exit(no_tick) end
     || T <- [1, 2, 3]],
    {ok, cancel} = timer:cancel(Tick),
    [7, 9, 3, 1, 4, 2] = Urgent ++ Rest.

urgent(Acc) ->
    receive
        {job, Prio, Name} when Prio >= 5 ->
            io:format("inbox: urgent job ~s (priority ~p)~n", [Name, Prio]),
            urgent([Prio | Acc])
    after 0 -> lists:reverse(Acc)
    end.

rest(Acc) ->
    receive
        {job, Prio, Name} ->
            io:format("inbox: job ~s (priority ~p)~n", [Name, Prio]),
            rest([Prio | Acc])
    after 100 -> lists:reverse(Acc)
    end.
