%% parallel_map: the Erlang twin of examples/parallel_map.c.
%% Lines (non-blank, non-comment): C 67 (examples/parallel_map.c), Erlang 25.
%% Run: erlc parallel_map.erl && erl -noshell -s parallel_map main -s init stop
-module(parallel_map).
-export([main/0]).

-define(N, 1000).

main() ->
    Self = self(),
    Workers = maps:from_list(
        [{Pid, I} || I <- lists:seq(1, ?N),
                     {Pid, _Ref} <- [spawn_monitor(fun() -> worker(Self, I) end)]]),
    io:format("gatherer: ~p workers started~n", [?N]),
    {Results, Crashes, Sum} = gather(Workers, ?N, 0, 0, 0),
    io:format("gatherer: ~p results, ~p crashes, sum of squares ~p~n",
              [Results, Crashes, Sum]),
    {990, 10} = {Results, Crashes}.

worker(_Parent, I) when I rem 97 =:= 0 -> exit({refused, I});
worker(Parent, I) -> Parent ! {result, I, I * I}.

gather(_, 0, Results, Crashes, Sum) -> {Results, Crashes, Sum};
gather(Workers, Left, Results, Crashes, Sum) ->
    receive
        {result, _I, Sq} -> gather(Workers, Left, Results + 1, Crashes, Sum + Sq);
        {'DOWN', _, process, _, normal} -> gather(Workers, Left - 1, Results, Crashes, Sum);
        {'DOWN', _, process, Pid, Why} ->
            io:format("gatherer: worker ~p crashed: ~p~n", [maps:get(Pid, Workers), Why]),
            gather(Workers, Left - 1, Results, Crashes + 1, Sum)
    after 10000 -> exit(timeout)
    end.
