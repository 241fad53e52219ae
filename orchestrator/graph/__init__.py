"""The LangGraph graph of micro-agents: state, runtime context, wiring."""
