%% pipeline: the Erlang twin of examples/pipeline.c.
%% Lines (non-blank, non-comment): C 61 (examples/pipeline.c), Erlang 26.
%% Run: erlc pipeline.erl && erl -noshell -s pipeline main -s init stop
-module(pipeline).
-export([main/0]).

-define(N, 1000000).

main() ->
    Self = self(),
    Sum = spawn(fun() -> sum(Self, 0) end),
    Inc = spawn(fun() -> stage(Sum, 1, 1) end),
    Dbl = spawn(fun() -> stage(Inc, 2, 0) end),
    io:format("driver: sending 1..~p through double -> increment -> sum~n", [?N]),
    [Dbl ! {value, I} || I <- lists:seq(1, ?N)],
    Dbl ! done,
    receive {total, Total} ->
        io:format("driver: total ~p (expected ~p)~n", [Total, ?N * (?N + 2)]),
        Total = ?N * (?N + 2)
    after 60000 -> exit(no_total)
    end.

stage(Next, Mul, Add) ->
    receive
        {value, V} -> Next ! {value, V * Mul + Add}, stage(Next, Mul, Add);
        done -> Next ! done
    end.

sum(Report, Acc) ->
    receive
        {value, V} -> sum(Report, Acc + V);
        done -> Report ! {total, Acc}
    end.
