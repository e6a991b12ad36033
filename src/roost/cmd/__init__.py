"""The client commands of `roost` and `roost shell`: one implementation of each.

`env` holds what they share (connection, options, argument types, error reporting),
`format` how results print (zkCli's text, JSON), `znode` the zkCli command set, `watch`
the event stream and `run` the commands that run a program under a lock or leadership.
"""
