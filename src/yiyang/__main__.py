from yiyang.cli import app

app()
