"""The shared mailbox door: mail that arrives at the collaboration mailbox becomes reports.

What lives here: reading a raw RFC 5322 message into an `IncomingMail` (`parse.py`, stdlib
`email` only), and the ways mail reaches Meld: the backlog import from an .mbox file or a
folder of .eml files (`meld mailbox import`, intake/cli/mailbox.py) and the Microsoft Graph
sync (`graph.py`, `sync.py`). Every message ends in ONE call to the use case
`services.take_mail(...)`, which decides what the mail is (new report, reply, duplicate,
auto-mail) in one transaction.

Who may import it: the doors (intake/cli, intake/app.py) and the services, which take an
`IncomingMail` (`intake.mailbox.parse` is plain data and parsing, with no database and no
door). Nothing here imports a door. Never log an address or a mail's text: ids and codes.
"""
