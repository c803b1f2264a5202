"""`Answers` reuses one serializer per thread: the answer must still be the
serializer's own, and one answer's context must never reach another's."""

import threading

from rest_framework import serializers

from mnistsite.api.answers import Answers


class Greeting(serializers.Serializer):
    name = serializers.CharField()
    greeting = serializers.SerializerMethodField()

    def get_greeting(self, instance):
        return f"{self.context.get('word', 'hello')} {instance['name']}"


GREETINGS = Answers(Greeting)


def test_an_answer_is_what_the_serializer_gives():
    for context in ({}, {"word": "hi"}):
        expected = Greeting({"name": "ada"}, context=context).data
        assert GREETINGS.of({"name": "ada"}, **context) == expected


def test_one_answers_context_does_not_reach_the_next():
    assert GREETINGS.of({"name": "ada"}, word="hi")["greeting"] == "hi ada"
    assert GREETINGS.of({"name": "ada"})["greeting"] == "hello ada"


def test_threads_answering_at_once_keep_their_own_context():
    wrong = []
    start = threading.Barrier(4)

    def answer(word: str) -> None:
        start.wait()
        for _ in range(2000):
            if GREETINGS.of({"name": "x"}, word=word)["greeting"] != f"{word} x":
                wrong.append(word)

    threads = [threading.Thread(target=answer, args=(w,)) for w in ("a", "b", "c", "d")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
