"""The poll, top to bottom.

- `poller`: due sources, fetch, what each answer means, the next interval, poll records;
- `work`: read a fetched feed (parse, leave out what is listed unchanged, normalize) and claim
  its new items (fold them into stories, record announced meetings);
- `keys`: the keys every item is recorded by;
- `routing`: matches, then one alert draft per chat (data, rendered when sent);
- `lanes`: where the work runs, a thread or a helper process, behind one result shape.
"""
