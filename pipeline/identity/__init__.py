"""People by face: descriptors (embed), reference photos (photos), tracks grouped into people
(people), the run's step (stage), the review's cards (cards), the opt-in record (record).
Descriptors stay in memory for the run: never on disk, in logs, CSVs or API answers."""
